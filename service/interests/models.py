"""Members' interests as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

Tag = Annotated[str, Meta(examples=["跑步"], description="A keyword, as written (Chinese intact; Latin lower-cased)")]
Weight = Annotated[
    float,
    Meta(
        ge=0,
        examples=[3.62],
        description="Texts carrying the tag, each worth 2^(-age in days / 30): fades unless renewed",
    ),
]


class MemberInterest(msgspec.Struct, rename="camel", kw_only=True):
    tag: Tag
    weight: Weight


class MyInterests(msgspec.Struct, rename="camel", kw_only=True):
    community_id: Annotated[str, Meta(examples=["42"])]
    tags: Annotated[list[MemberInterest], Meta(description="Strongest first, at most 20")]
    updated_at: Annotated[datetime | None, Meta(description="The latest text counted; null before any")]
    introductions: Annotated[
        bool, Meta(description="Whether the warm-up robot may introduce me and suggest topics (my interest settings)")
    ]


class CommunityInterest(msgspec.Struct, rename="camel", kw_only=True):
    tag: Tag
    members: Annotated[int, Meta(ge=1, examples=[12], description="Active members carrying the tag")]
    weight: Annotated[float, Meta(ge=0, examples=[30.5], description="Their weights summed, as of `computedAt`")]


class CommunityInterests(msgspec.Struct, rename="camel", kw_only=True):
    community_id: Annotated[str, Meta(examples=["42"])]
    tags: Annotated[list[CommunityInterest], Meta(description="By members carrying it, then weight")]
    computed_at: Annotated[datetime | None, Meta(description="When the job last computed them; null before it did")]


class InterestSettings(msgspec.Struct, rename="camel", kw_only=True):
    introductions: Annotated[
        bool,
        Meta(description="The warm-up robot may introduce me to members who share an interest and suggest topics I "
             "care about (default true)"),
    ]  # fmt: skip
    updated_at: Annotated[datetime | None, Meta(description="When I last changed it; null: never")]


class InterestSettingsUpdate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    introductions: bool
