"""HTTP routes of blocking: thin handlers over logic.py."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.params import JSONBody

from service.core.deps import AppSettings, Db
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.ids import PathId
from service.core.paging import Cursor, Limit
from service.openapi import answer
from service.safety import examples as ex
from service.safety import logic
from service.safety import models as m
from service.safety.problems import PROBLEMS

AUTH = ("unauthorized", "token_expired")
EFFECTS = (
    "What the blocked member writes disappears from my feeds and comment lists (others still see it); they cannot "
    "reply to my posts or comments, mention me or notify me (`blocked`); neither of us sees the other in member "
    "lists. They are not told."
)


class BlocksController(Controller):
    path = "/me/blocks"
    tags = ["safety"]
    security = BEARER_SECURITY

    @post(
        "",
        operation_id="blockMember",
        summary="Block a member (idempotent: blocking again answers the block)",
        description=EFFECTS + " At most MAX_BLOCKS (1000) blocks (`too_many_blocks`).",
        status_code=200,
        responses={
            **PROBLEMS.responses(*AUTH, "not_found", "cannot_block_yourself", "too_many_blocks"),
            **answer(200, ex.BLOCK, "a blocked member", "The block"),
        },
    )
    async def block(self, data: JSONBody[m.BlockCreate], user: CurrentUser, db: Db, settings: AppSettings) -> m.Block:
        return await logic.block(db, settings, user.id, data)

    @delete(
        "/{user_id:str}",
        operation_id="unblockMember",
        summary="Unblock a member (idempotent); their content shows again",
        responses=PROBLEMS.responses(*AUTH),
    )
    async def unblock(self, user_id: PathId, user: CurrentUser, db: Db) -> None:
        await logic.unblock(db, user.id, user_id)

    @get(
        "",
        operation_id="listBlocks",
        summary="My blocked members, most recently blocked first",
        responses={**PROBLEMS.responses(*AUTH), **answer(200, ex.PAGE, "one blocked member", "My block list")},
    )
    async def list(self, user: CurrentUser, db: Db, limit: Limit = 20, cursor: Cursor = None) -> m.BlockPage:
        return await logic.blocks(db, user.id, limit, cursor)


CONTROLLERS = [BlocksController]
