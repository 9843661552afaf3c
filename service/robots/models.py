"""Requests and responses of the keyword robot (camelCase on the wire, ids as strings)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from service.core.paging import NextCursor
from service.robots.matching import PATTERN_MAX

MatchMode = Literal["exact", "contains", "regex"]
Keyword = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=PATTERN_MAX,
        examples=["多少钱|价格"],
        description=f"The keyword, or for `regex` a pattern (at most {PATTERN_MAX} characters, case-insensitive)",
    ),
]
Reply = Annotated[
    str, Meta(min_length=1, max_length=500, examples=["价格请看群公告置顶哦～"], description="What the robot answers")
]
Cooldown = Annotated[
    int,
    Meta(ge=0, le=604800, examples=[300], description="Seconds before this rule answers the same member again"),
]


class RuleCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    keyword: Keyword
    match_mode: Annotated[
        MatchMode,
        Meta(description="exact: the whole text; contains: anywhere in the text; regex: a pattern search"),
    ] = "contains"
    reply: Reply
    enabled: bool = True
    cooldown_seconds: Cooldown = 300


class RuleUpdate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Only the fields sent change."""

    keyword: Keyword | UnsetType = UNSET
    match_mode: MatchMode | UnsetType = UNSET
    reply: Reply | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    cooldown_seconds: Cooldown | UnsetType = UNSET


class Rule(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    community_id: str
    keyword: Annotated[str, Meta(examples=["价格"])]
    match_mode: MatchMode
    reply: Annotated[str, Meta(examples=["价格请看群公告置顶哦～"])]
    enabled: bool
    cooldown_seconds: int
    created_by: Annotated[str, Meta(examples=["7"])]
    created_at: datetime
    updated_at: datetime


class RulePage(msgspec.Struct, rename="camel"):
    items: list[Rule]
    next_cursor: NextCursor
