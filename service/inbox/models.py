"""The inbox as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from service.core.paging import NextCursor

Kind = Annotated[
    Literal[
        "comment",
        "reply",
        "mention",
        "likes",
        "join_approved",
        "join_rejected",
        "trial_won",
        "trial_closing",
        "trial_shipped",
        "points_refunded",
        "poll_closed",
        "report_decided",
        "content_removed",
        "meetup_changed",
        "meetup_cancelled",
        "collection_asked",
        "collection_refunded",
        "collection_settled",
        "app_expiring",
        "reward_paid",
        "introduction",
        "interest_prompt",
    ],
    Meta(
        description="comment: on my post; reply: to my comment; mention: a post or comment mentioned me; "
        "likes: on my post (one item per post, `count`); "
        "join_approved / join_rejected: my join request; trial_won / trial_closing / trial_shipped: a free trial "
        "of a poll (closing: claim before `data.expiresAt`); "
        "points_refunded: a place I redeemed expired unclaimed, its `data.points` are mine again; "
        "poll_closed: a poll I took part in has its result; "
        "report_decided: a report of mine (`data.outcome`); content_removed: my post or comment (`data.reason`); "
        "meetup_changed / meetup_cancelled: a meetup I signed up for; collection_asked / collection_refunded / "
        "collection_settled: a group collection asks my share, refunded it, or paid me what it collected; "
        "app_expiring: a monthly app of my community ends soon; reward_paid: a reward reached my WeChat Pay; "
        "introduction: the warm-up robot introduces a member who shares an interest (`actor`, `data.tag`); "
        "interest_prompt: the warm-up robot suggests a topic I care about (`data.tag`, `data.postId` when a post)"
    ),
]


class Actor(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    nickname: str
    avatar_url: str


class Notification(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    kind: Kind
    community_id: str | None
    subject_type: Annotated[
        str,
        Meta(
            description="What to open: post, comment, community, trial, poll, report, meetup, collection, reward, "
            "user (a member's profile in the community)"
        ),
    ]
    subject_id: str
    actor: Annotated[Actor | None, Meta(description="Who did it (for likes: the latest); null for decisions")]
    count: Annotated[int, Meta(description="Likes: the post's likes now; otherwise 1")]
    data: Annotated[dict[str, str], Meta(description="Details by kind, e.g. `postId`, `outcome`, `reason`")]
    read: bool
    created_at: datetime


class NotificationPage(msgspec.Struct, rename="camel"):
    items: list[Notification]
    unread_count: Annotated[int, Meta(description="Unread items across my communities, muted ones left out")]
    next_cursor: NextCursor


class MarkRead(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """`upToId`: everything up to it (the newest shown: all); or `ids`: these ones."""

    up_to_id: Annotated[str, Meta(pattern=r"^[1-9][0-9]{0,14}$(?!\n)")] | None = None
    ids: Annotated[list[Annotated[str, Meta(pattern=r"^[1-9][0-9]{0,14}$(?!\n)")]], Meta(max_length=100)] = []


class Unread(msgspec.Struct, rename="camel"):
    unread_count: int
