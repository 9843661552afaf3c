"""Answers shown as examples in the OpenAPI document, built from the real models so they cannot drift."""

from __future__ import annotations

from datetime import UTC, datetime

from service.brands import models as m

_AT = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)

BRAND = m.Brand(  # short: it is shown on four routes
    id="7",
    owner_id="1001",
    name="山野跑团",
    description="城市跑步社群品牌",
    defaults=m.BrandDefaults(
        welcome_template="欢迎 {nickname} 加入「{community}」！",
        introduction_required=True,
        introduction_prompt="说说你的配速和常跑路线",
        robot_rules=[m.RuleDefault(keyword="报名", reply="报名请看群公告置顶～")],
        points_spendable=True,
    ),
    team=[
        m.TeamMember(user_id="1001", nickname="阿山", role="owner", added_at=_AT),
    ],
    communities=[
        m.BrandCommunity(
            id="42",
            name="跑团 1群",
            member_count=100,
            member_cap=100,
            entry_mode="free",
            stage="active",
            activity_score=37.5,
            series_id="3",
            series_number=1,
        ),
    ],
    created_at=_AT,
)

SERIES = m.Series(
    id="3",
    brand_id="7",
    name="跑团",
    template_id="42",
    sisters=[
        m.Sister(id="42", name="跑团 1群", number=1, member_count=100, member_cap=100, has_room=False),
        m.Sister(id="57", name="跑团 2群", number=2, member_count=12, member_cap=100, has_room=True),
    ],
    my_community_id="57",
)
