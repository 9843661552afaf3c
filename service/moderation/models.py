"""Reports, moderation cases and decisions as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from service.core.media import Image
from service.core.paging import NextCursor

IdString = Annotated[str, Meta(pattern=r"^[1-9][0-9]{0,14}$(?!\n)", examples=["42"], description="An id")]
TargetKind = Literal["post", "comment", "member", "community"]
Reason = Annotated[
    Literal["spam", "abuse", "pornography", "fraud", "illegal", "other"],
    Meta(description="spam (ads), abuse, pornography, fraud, illegal, or other (then a `note` is required)"),
]
Outcome = Annotated[
    Literal["pending", "dismissed", "upheld"],
    Meta(description="pending: not decided yet; dismissed: the moderators kept it; upheld: they acted on it"),
]
CaseStatus = Literal["open", "approved", "removed"]


class ReportCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    target_kind: TargetKind
    target_id: Annotated[IdString, Meta(description="The post, comment, member (user id) or community reported")]
    community_id: Annotated[IdString, Meta(description="Where it happened: required for a member")] | None = None
    reason: Reason
    note: Annotated[str, Meta(max_length=500, examples=["连续发广告链接"])] = ""


class Report(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    target_kind: TargetKind
    target_id: str
    community_id: str
    reason: str
    note: str
    outcome: Outcome
    created_at: datetime
    decided_at: datetime | None


class ReportPage(msgspec.Struct, rename="camel"):
    items: list[Report]
    next_cursor: NextCursor


class Person(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    nickname: str
    avatar_url: str


class ReasonCount(msgspec.Struct, rename="camel", kw_only=True):
    reason: str
    count: int


class History(msgspec.Struct, rename="camel", kw_only=True):
    """The author's standing in the community, for the decision."""

    removals: Annotated[int, Meta(description="Earlier cases against them decided `removed` here")]
    mutes: Annotated[int, Meta(description="Times an admin muted them here")]
    muted_until: datetime | None
    role: Annotated[str | None, Meta(description="owner, admin or member; null when no longer a member")]


class Case(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    community_id: str
    queue: Annotated[Literal["community", "operator"], Meta(description="operator: against a community or its staff")]
    target_kind: TargetKind
    target_id: str
    post_id: Annotated[str | None, Meta(description="The post of a reported comment (or the post itself)")]
    text: Annotated[str, Meta(description="The reported text: a post, a comment, a nickname or a community name")]
    images: Annotated[list[Image], Meta(description="Its photos, also those WeChat held for review")]
    author: Person | None
    review: Annotated[bool, Meta(description="WeChat's content check answered `review`: a person decides")]
    hidden: Annotated[bool, Meta(description="Hidden from readers since enough members reported it")]
    reporters: int
    reasons: list[ReasonCount]
    notes: Annotated[list[str], Meta(description="The reporters' notes")]
    history: History | None
    status: CaseStatus
    reason: Annotated[str, Meta(description="The decision's reason")]
    opened_at: datetime
    decided_at: datetime | None


class CasePage(msgspec.Struct, rename="camel"):
    items: list[Case]
    next_cursor: NextCursor


class Decision(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    action: Annotated[
        Literal["approve", "remove"],
        Meta(
            description="approve: keep or release it, the reports are dismissed; remove: a post or comment is "
            "removed (its author is told the reason), a community is delisted, a member case is upheld"
        ),
    ]
    reason: Annotated[str, Meta(max_length=200, examples=["广告内容"])] = ""
    mute_author_minutes: (
        Annotated[int, Meta(ge=1, le=43_200, description="Also mute the author (admins of the community)")] | None
    ) = None
    remove_author: Annotated[bool, Meta(description="Also remove the author from the community (admins)")] = False


class Removal(msgspec.Struct, rename="camel", kw_only=True):
    """Something of mine that moderators removed, and why."""

    case_id: str
    community_id: str
    target_kind: TargetKind
    target_id: str
    text: str
    reason: str
    decided_at: datetime


class RemovalPage(msgspec.Struct, rename="camel"):
    items: list[Removal]
    next_cursor: NextCursor
