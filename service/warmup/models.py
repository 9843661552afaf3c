"""Requests and answers of the warm-up robot."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from service.core.paging import NextCursor

HHMM = Annotated[
    str,
    Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$(?!\n)", examples=["09:00"], description="Local time HH:MM"),
]
QuietMinutes = Annotated[
    int,
    Meta(ge=10, le=10080, examples=[180], description="Quiet time within active hours before the robot posts"),
]
TopicText = Annotated[str, Meta(min_length=1, max_length=500, examples=["周末大家都去哪儿跑步了？晒晒路线吧"])]
Position = Annotated[int, Meta(ge=0, le=1_000_000, description="The robot takes topics by position, then id")]


class WarmupTopic(msgspec.Struct, rename="camel", kw_only=True):
    id: Annotated[str, Meta(examples=["12"])]
    text: str
    position: int
    used_count: Annotated[int, Meta(description="How often the robot posted it")]
    created_at: datetime


class WarmupSettings(msgspec.Struct, rename="camel", kw_only=True):
    enabled: bool
    quiet_minutes: int
    active_from: Annotated[str, Meta(examples=["09:00"])]
    active_until: Annotated[str, Meta(examples=["22:00"], description="Earlier than activeFrom: past midnight")]
    time_zone: Annotated[str, Meta(examples=["Asia/Shanghai"], description="The community's time zone")]
    topic_count: int
    last_posted_at: datetime | None
    last_post_id: str | None
    next_topic: Annotated[WarmupTopic | None, Meta(description="What the robot posts next")]


class WarmupSettingsUpdate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    enabled: bool | UnsetType = UNSET
    quiet_minutes: QuietMinutes | UnsetType = UNSET
    active_from: HHMM | UnsetType = UNSET
    active_until: HHMM | UnsetType = UNSET


class WarmupTopicCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    text: TopicText
    position: Annotated[Position | None, Meta(description="Default: after the last topic")] = None


class WarmupTopicUpdate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    text: TopicText | UnsetType = UNSET
    position: Position | UnsetType = UNSET


class WarmupTopicPage(msgspec.Struct, rename="camel"):
    items: list[WarmupTopic]
    next_cursor: NextCursor
