"""Answers shown as examples in the OpenAPI document, built from the real models so they cannot drift."""

from __future__ import annotations

from datetime import UTC, datetime

from service.interests import models as m

MINE = m.MyInterests(
    community_id="42",
    tags=[m.MemberInterest(tag="跑步", weight=3.62), m.MemberInterest(tag="咖啡", weight=1.5)],
    updated_at=datetime(2025, 3, 2, 6, 0, tzinfo=UTC),
    introductions=True,
)
COMMUNITY = m.CommunityInterests(
    community_id="42",
    tags=[
        m.CommunityInterest(tag="跑步", members=12, weight=30.5),
        m.CommunityInterest(tag="马拉松", members=5, weight=8.25),
    ],
    computed_at=datetime(2025, 3, 2, 6, 1, tzinfo=UTC),
)
SETTINGS = m.InterestSettings(introductions=False, updated_at=datetime(2025, 3, 2, 6, 0, tzinfo=UTC))
