"""Requests and answers of theme activities, check-ins and the community's time zone."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from service.core.media import IMAGE_URLS_REMOVED, AvatarLink, EarlierImageUrls, Image, ImageIds
from service.core.paging import NextCursor

Recurrence = Literal["daily", "weekly", "dates"]
HHMM = Annotated[
    str,
    Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$(?!\n)", examples=["07:00"], description="Local time HH:MM"),
]
Title = Annotated[str, Meta(min_length=1, max_length=60, examples=["早起打卡"])]
Prompt = Annotated[str, Meta(min_length=1, max_length=500, examples=["晒出你今天早上 7 点前的第一张照片"])]
Weekday = Annotated[int, Meta(ge=1, le=7)]
Weekdays = Annotated[
    list[Weekday], Meta(max_length=7, examples=[[1, 3, 5]], description="weekly: ISO weekdays, 1 Monday .. 7 Sunday")
]
Dates = Annotated[list[date], Meta(max_length=60, examples=[["2025-05-01", "2025-05-04"]], description="dates: days")]
RewardPoints = Annotated[int, Meta(ge=0, le=1000, examples=[10], description="Points per check-in")]
ActivityStatus = Annotated[
    Literal["active", "ended"],
    Meta(
        description="ended: an admin ended it, or its schedule ran out (no day of it left from today on, in the "
        "community's time zone: the day after its endsOn or its last date); an ended activity is not editable"
    ),
]
TimeZoneName = Annotated[
    str, Meta(min_length=1, max_length=64, examples=["Asia/Shanghai"], description="An IANA time zone name")
]


class ActivityCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    title: Title
    prompt: Prompt
    recurrence: Annotated[Recurrence, Meta(examples=["daily"])]
    window_start: Annotated[HHMM, Meta(description="The check-in window opens (local time)")]
    window_end: Annotated[
        HHMM, Meta(examples=["09:00"], description="It closes; earlier than windowStart: the next day")
    ]
    weekdays: Weekdays = []
    dates: Dates = []
    starts_on: Annotated[date | None, Meta(description="First local day; default today")] = None
    ends_on: Annotated[date | None, Meta(description="Last local day (inclusive); default none")] = None
    reward_points: RewardPoints = 0


class ActivityUpdate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Only the fields sent change. A new window, days or end regenerates the occurrences not yet open."""

    title: Title | UnsetType = UNSET
    prompt: Prompt | UnsetType = UNSET
    reward_points: RewardPoints | UnsetType = UNSET
    window_start: HHMM | UnsetType = UNSET
    window_end: HHMM | UnsetType = UNSET
    weekdays: Weekdays | UnsetType = UNSET
    dates: Dates | UnsetType = UNSET
    ends_on: date | None | UnsetType = UNSET


class Occurrence(msgspec.Struct, rename="camel", kw_only=True):
    id: Annotated[str, Meta(examples=["901"])]
    local_date: Annotated[date, Meta(description="The local day in the community's time zone")]
    opens_at: datetime
    closes_at: datetime
    post_id: Annotated[str | None, Meta(description="The robot's announcement, once the window opened")]
    check_in_count: int


class MyProgress(msgspec.Struct, rename="camel", kw_only=True):
    checked_in_now: Annotated[bool, Meta(description="I checked into the open occurrence")]
    check_ins: int
    points: int
    current_streak: Annotated[
        int, Meta(description="Consecutive occurrences checked into, up to the latest (or the open one)")
    ]
    longest_streak: int


class Activity(msgspec.Struct, rename="camel", kw_only=True):
    id: Annotated[str, Meta(examples=["77"])]
    community_id: str
    title: str
    prompt: Annotated[str, Meta(examples=["晒出你今天早上 7 点前的第一张照片"])]
    recurrence: Recurrence
    weekdays: list[int]
    dates: list[date]
    starts_on: date
    ends_on: date | None
    window_start: Annotated[str, Meta(examples=["06:00"])]
    window_end: Annotated[str, Meta(examples=["09:00"])]
    time_zone: Annotated[str, Meta(examples=["Asia/Shanghai"])]
    reward_points: int
    status: ActivityStatus
    created_at: datetime
    current: Annotated[Occurrence | None, Meta(description="The occurrence open now")] = None
    next: Annotated[Occurrence | None, Meta(description="The next occurrence to open")] = None
    me: MyProgress | None = None


class ActivitySummary(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    title: str
    recurrence: Recurrence
    window_start: Annotated[str, Meta(examples=["06:00"])]
    window_end: Annotated[str, Meta(examples=["09:00"])]
    reward_points: int
    status: ActivityStatus
    next_opens_at: Annotated[datetime | None, Meta(description="When the next (or current) window opens")]
    created_at: datetime


class ActivityPage(msgspec.Struct, rename="camel"):
    items: list[ActivitySummary]
    next_cursor: NextCursor


class OccurrencePage(msgspec.Struct, rename="camel"):
    items: list[Occurrence]
    next_cursor: NextCursor


class CheckInCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    removed_fields: ClassVar[dict[str, str]] = IMAGE_URLS_REMOVED

    text: Annotated[str, Meta(min_length=1, max_length=2000, examples=["6:10 起床，跑了 5 公里"])]
    image_ids: ImageIds = []
    occurrence_id: (
        Annotated[
            str,
            Meta(pattern=r"^[1-9][0-9]{0,15}$(?!\n)", description="The occurrence answered; default the one open now"),
        ]
        | None
    ) = None


class CheckIn(msgspec.Struct, rename="camel", kw_only=True):
    id: Annotated[str, Meta(examples=["5120"])]
    activity_id: str
    occurrence_id: str
    local_date: date
    user_id: str
    nickname: str
    avatar_url: AvatarLink
    post_id: str
    text: str
    images: list[Image]
    image_urls: EarlierImageUrls
    post_status: Annotated[
        Literal["visible", "pending", "rejected"],
        Meta(description="pending: held for review, or its photos are still being checked"),
    ]
    points: int
    streak: Annotated[int, Meta(description="The run of consecutive occurrences this check-in completes")]
    counted: Annotated[
        bool,
        Meta(
            description="false once its post was deleted, refused or removed: it no longer earns points, streaks "
            "or a place in the ranking, and the occurrence may be checked into again while its window is open"
        ),
    ]
    created_at: datetime


class CheckInPage(msgspec.Struct, rename="camel"):
    items: list[CheckIn]
    next_cursor: NextCursor


class RankingEntry(msgspec.Struct, rename="camel", kw_only=True):
    rank: int
    user_id: str
    nickname: str
    avatar_url: AvatarLink
    check_ins: int
    points: int
    current_streak: int
    longest_streak: int


class Ranking(msgspec.Struct, rename="camel", kw_only=True):
    activity_id: str
    items: Annotated[
        list[RankingEntry],
        Meta(description="By check-ins, then longest streak, then current streak; ties share a rank"),
    ]
    next_cursor: NextCursor  # no default: sent as null on the last page, as every list's


class TimeZoneSetting(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    time_zone: TimeZoneName
