"""A member's profile in a community as the API shows it (profiles.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from service.communities.models import Role
from service.core.media import AvatarLink


class ProfileFigures(msgspec.Struct, rename="camel", kw_only=True):
    valid_posts: Annotated[
        int, Meta(description="Visible posts of 5+ characters or with a photo, the same words counted once")
    ]
    valid_comments: Annotated[int, Meta(description="Visible comments counted the same way")]
    essence_posts: Annotated[int, Meta(description="Visible posts an admin marked as essence")]
    check_ins: Annotated[int, Meta(description="Check-ins in the community's activities")]
    current_streak: Annotated[int, Meta(description="The longest current check-in streak over the activities")]
    longest_streak: int
    points: Annotated[int, Meta(description="Points earned by check-ins")]


class MemberProfile(msgspec.Struct, rename="camel", kw_only=True):
    user_id: str
    nickname: str
    avatar_url: AvatarLink
    role: Role
    joined_at: datetime
    introduction: Annotated[
        str | None,
        Meta(
            examples=["大家好，我是小林，爱跑步"],
            description="The text of their self-introduction, while it is visible",
        ),
    ]
    contribution: ProfileFigures
