"""Answers shown as examples in the OpenAPI document, built from the real models so they cannot drift."""

from __future__ import annotations

from datetime import UTC, datetime

from service.communities import models as m
from service.core.media import PUBLIC_LINK_EXAMPLE
from service.openapi import example  # noqa: F401 - the routes' examples.example

_AT = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)

MEMBERSHIP = m.Membership(
    role="member",
    status="active",
    joined_at=_AT,
    muted_until=None,
    notifications_muted=False,
    unfollowed=False,
    introduced=False,
    introduction_post_id=None,
)

COMMUNITY = m.Community(
    id="42",
    owner_id="7",
    name="城市跑团",
    description="每周六早上一起跑 10 公里",
    cover_url=PUBLIC_LINK_EXAMPLE,
    tags=["跑步", "健康"],
    visibility="listed",
    entry_mode="free",
    price_fen=None,
    member_cap=100,
    member_count=37,
    welcome_template=m.DEFAULT_WELCOME,
    introduction_required=True,
    introduction_prompt=m.DEFAULT_INTRODUCTION_PROMPT,
    refund_window_hours=m.REFUND_WINDOW_DEFAULT_HOURS,
    collections_by="members",
    created_at=_AT,
    updated_at=_AT,
    membership=MEMBERSHIP,
    join_request=None,
)

JOIN_REQUEST = m.JoinRequest(
    id="501",
    community_id="42",
    user_id="1001",
    nickname="小林",
    avatar_url=PUBLIC_LINK_EXAMPLE,
    message="我也喜欢跑步",
    status="pending",
    reason="",
    created_at=_AT,
    decided_at=None,
    decided_by=None,
)

JOINED = m.JoinResult(
    outcome="joined",
    membership=MEMBERSHIP,
    welcome=m.Welcome(
        post_id="9001",
        text="欢迎 小林 加入「城市跑团」！请做个自我介绍，让大家认识你吧。",
        introduction_required=True,
        introduction_prompt=m.DEFAULT_INTRODUCTION_PROMPT,
    ),
)
PENDING = m.JoinResult(outcome="pending", request=JOIN_REQUEST)
ALREADY = m.JoinResult(outcome="already_member", membership=MEMBERSHIP)

MY_COMMUNITIES = m.MyCommunityPage(
    items=[
        m.MyCommunity(
            id="42",
            name="城市跑团",
            cover_url=PUBLIC_LINK_EXAMPLE,
            entry_mode="free",
            member_count=37,
            role="member",
            joined_at=_AT,
            notifications_muted=False,
            unfollowed=False,
            introduced=True,
            last_activity_at=datetime(2025, 3, 2, 7, 0, tzinfo=UTC),
            unread_count=5,
        )
    ],
    next_cursor="WyIyMDI1LTAzLTAyVDA3OjAwOjAwKzAwOjAwIiw0Ml0",
)
