"""Answers shown as examples in the OpenAPI document, built from the real models so they cannot drift."""

from __future__ import annotations

from datetime import UTC, date, datetime

from service.activities import models as m
from service.core.media import EXAMPLE_IMAGE, PUBLIC_LINK_EXAMPLE

_OPENED = datetime(2025, 3, 1, 22, 0, tzinfo=UTC)  # 06:00 on 2 March in Shanghai
OCCURRENCE = m.Occurrence(
    id="901",
    local_date=date(2025, 3, 2),
    opens_at=_OPENED,
    closes_at=datetime(2025, 3, 2, 1, 0, tzinfo=UTC),
    post_id="7001",
    check_in_count=12,
)
NEXT = m.Occurrence(
    id="902",
    local_date=date(2025, 3, 3),
    opens_at=datetime(2025, 3, 2, 22, 0, tzinfo=UTC),
    closes_at=datetime(2025, 3, 3, 1, 0, tzinfo=UTC),
    post_id=None,
    check_in_count=0,
)
ACTIVITY = m.Activity(
    id="77",
    community_id="42",
    title="早起打卡",
    prompt="晒出你今天早上 7 点前的第一张照片",
    recurrence="daily",
    weekdays=[],
    dates=[],
    starts_on=date(2025, 3, 1),
    ends_on=None,
    window_start="06:00",
    window_end="09:00",
    time_zone="Asia/Shanghai",
    reward_points=10,
    status="active",
    created_at=datetime(2025, 2, 28, 12, 0, tzinfo=UTC),
    current=OCCURRENCE,
    next=NEXT,
    me=m.MyProgress(checked_in_now=True, check_ins=5, points=50, current_streak=3, longest_streak=4),
)
ACTIVITIES = m.ActivityPage(
    items=[
        m.ActivitySummary(
            id="77",
            title="早起打卡",
            recurrence="daily",
            window_start="06:00",
            window_end="09:00",
            reward_points=10,
            status="active",
            next_opens_at=_OPENED,
            created_at=datetime(2025, 2, 28, 12, 0, tzinfo=UTC),
        )
    ],
    next_cursor=None,
)
OCCURRENCES = m.OccurrencePage(items=[OCCURRENCE], next_cursor="WyIyMDI1LTAzLTAxVDIyOjAwOjAwKzAwOjAwIiw5MDFd")
CHECK_IN = m.CheckIn(
    id="5120",
    activity_id="77",
    occurrence_id="901",
    local_date=date(2025, 3, 2),
    user_id="1001",
    nickname="小林",
    avatar_url=PUBLIC_LINK_EXAMPLE,
    post_id="7002",
    text="6:10 起床，跑了 5 公里",
    images=[EXAMPLE_IMAGE],
    image_urls=[],
    post_status="visible",
    points=10,
    streak=3,
    counted=True,
    created_at=datetime(2025, 3, 1, 22, 10, tzinfo=UTC),
)
CHECK_INS = m.CheckInPage(items=[CHECK_IN], next_cursor=None)
RANKING = m.Ranking(
    activity_id="77",
    items=[
        m.RankingEntry(
            rank=1,
            user_id="1001",
            nickname="小林",
            avatar_url=PUBLIC_LINK_EXAMPLE,
            check_ins=5,
            points=50,
            current_streak=3,
            longest_streak=4,
        ),
        m.RankingEntry(
            rank=2,
            user_id="1002",
            nickname="阿杰",
            avatar_url="",
            check_ins=4,
            points=40,
            current_streak=0,
            longest_streak=4,
        ),
    ],
    next_cursor=None,
)
TIME_ZONE = m.TimeZoneSetting(time_zone="Asia/Shanghai")
