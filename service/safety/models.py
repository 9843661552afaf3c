"""Blocks as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from service.core.ids import ID_PATTERN
from service.core.media import AvatarLink
from service.core.paging import NextCursor


class BlockCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    user_id: Annotated[str, Meta(pattern=ID_PATTERN, examples=["1002"], description="The member to block")]


class Block(msgspec.Struct, rename="camel", kw_only=True):
    user_id: str
    nickname: str
    avatar_url: AvatarLink
    blocked_at: datetime


class BlockPage(msgspec.Struct, rename="camel"):
    items: list[Block]
    next_cursor: NextCursor
