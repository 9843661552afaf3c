"""Brands and sister-community series as the API shows them (camelCase on the wire, ids as strings)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from service.core.ids import ID_PATTERN

Id = Annotated[str, Meta(pattern=ID_PATTERN, examples=["42"])]
Stage = Literal["gather", "active", "operate", "commercialise"]
MAX_DEFAULT_RULES = 10


class RuleDefault(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    keyword: Annotated[str, Meta(min_length=1, max_length=100, examples=["报名"])]
    match_mode: Literal["exact", "contains"] = "contains"
    reply: Annotated[str, Meta(min_length=1, max_length=500, examples=["报名请看群公告置顶～"])]


class BrandDefaults(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """What a community attached to the brand inherits; null keeps the community's own setting. The community's
    admins may change any of it afterwards (their setting wins); later changes here reach newly attached ones."""

    welcome_template: (
        Annotated[
            str,
            Meta(
                max_length=500,
                examples=["欢迎 {nickname} 加入「{community}」！"],
                description="{nickname}, {community}",
            ),
        ]
        | None
    ) = None
    introduction_required: bool | None = None
    introduction_prompt: Annotated[str, Meta(max_length=200, examples=["说说你的配速和常跑路线"])] | None = None
    robot_rules: Annotated[
        list[RuleDefault],
        Meta(max_length=MAX_DEFAULT_RULES, description="Keyword rules added to each attached community"),
    ] = []
    points_spendable: Annotated[
        bool | None,
        Meta(description="Brand-wide: members may spend check-in points on trial places (null: unchanged)"),
    ] = None


class BrandCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=60, examples=["山野跑团"])]
    description: Annotated[str, Meta(max_length=1000)] = ""
    defaults: BrandDefaults = msgspec.field(default_factory=BrandDefaults)


class TeamMember(msgspec.Struct, rename="camel", kw_only=True):
    user_id: str
    nickname: str
    role: Literal["owner", "admin"]
    added_at: datetime


class BrandCommunity(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    name: str
    member_count: int
    member_cap: int
    entry_mode: str
    stage: Annotated[Stage, Meta(description="Derived daily from the last 30 days of metrics")]
    activity_score: Annotated[float, Meta(description="Over the last 30 days, computed with the stage")]
    series_id: str | None
    series_number: int | None


class Brand(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    owner_id: str
    name: str
    description: str
    defaults: BrandDefaults
    team: list[TeamMember]
    communities: Annotated[list[BrandCommunity], Meta(description="The brand's communities, oldest first")]
    created_at: datetime


class AttachCommunity(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    community_id: Id
    inherit_defaults: Annotated[bool, Meta(description="Take the brand's defaults (over the community's own)")] = True


class BrandTransfer(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    user_id: Annotated[Id, Meta(description="A brand admin: they become the owner, and you an admin")]


class SeriesCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    community_id: Annotated[Id, Meta(description="A community of the brand: the template and first sister")]
    name: Annotated[
        str, Meta(min_length=1, max_length=36, examples=["跑团"], description="Sisters are named `<name> <n>群`")
    ]


class Sister(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    name: str
    number: int
    member_count: int
    member_cap: int
    has_room: bool


class Series(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    brand_id: str
    name: str
    template_id: str
    sisters: list[Sister]
    my_community_id: Annotated[str | None, Meta(description="The sister I am a member of (one at a time)")]
