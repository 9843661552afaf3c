"""Answers shown as examples in the OpenAPI document, built from the real models so they cannot drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from service.core.media import EXAMPLE_IMAGE
from service.moderation import models as m

_AT = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
_LATER = _AT + timedelta(hours=2)

REPORT = m.Report(
    id="9001",
    target_kind="post",
    target_id="301",
    community_id="42",
    reason="spam",
    note="连续发广告链接",
    outcome="pending",
    created_at=_AT,
    decided_at=None,
)
REPORTS = m.ReportPage(items=[REPORT], next_cursor=None)

CASE = m.Case(
    id="77",
    community_id="42",
    queue="community",
    target_kind="post",
    target_id="301",
    post_id="301",
    text="加我微信领取优惠券",
    images=[EXAMPLE_IMAGE],
    author=m.Person(id="1002", nickname="小王", avatar_url="https://cdn.example.com/a.jpg"),
    review=False,
    hidden=True,
    reporters=3,
    reasons=[m.ReasonCount(reason="spam", count=3)],
    notes=["连续发广告链接"],
    history=m.History(removals=1, mutes=0, muted_until=None, role="member"),
    status="open",
    reason="",
    opened_at=_AT,
    decided_at=None,
)
CASES = m.CasePage(items=[CASE], next_cursor=None)
DECIDED = msgspec.structs.replace(CASE, status="removed", reason="广告内容", decided_at=_LATER)

REMOVALS = m.RemovalPage(
    items=[
        m.Removal(
            case_id="77",
            community_id="42",
            target_kind="post",
            target_id="301",
            text="加我微信领取优惠券",
            reason="广告内容",
            decided_at=_LATER,
        )
    ],
    next_cursor=None,
)
