"""Blocking and unblocking a member, my block list."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from service.core import live
from service.core.paging import fetch_page
from service.core.rows import from_row
from service.errors import Problem
from service.safety import models as m
from service.safety import queries as q
from service.settings import Settings


async def block(conn: asyncpg.Connection, settings: Settings, user_id: int, data: m.BlockCreate) -> m.Block:
    """Blocking twice answers the block as it is (its first time)."""
    blocked_id = int(data.user_id)
    if blocked_id == user_id:
        raise Problem("cannot_block_yourself")
    async with conn.transaction():
        await conn.execute(q.LOCK_USER, user_id)
        existing = await conn.fetchrow(q.ONE, user_id, blocked_id)
        if existing is not None:
            return from_row(m.Block, existing)
        if not await conn.fetchval(q.USER_EXISTS, blocked_id):
            raise Problem("not_found", "no such member")
        if await conn.fetchval(q.COUNT, user_id) >= settings.max_blocks:
            raise Problem("too_many_blocks", f"at most {settings.max_blocks} blocks")
        await conn.execute(q.INSERT, user_id, blocked_id)
        await live.blocks(conn, user_id, blocked_id, True)  # my open sockets stop hearing of them on commit
        return from_row(m.Block, await conn.fetchrow(q.ONE, user_id, blocked_id))


async def unblock(conn: asyncpg.Connection, user_id: int, blocked_id: int) -> None:
    """Unblocking someone not blocked is fine."""
    async with conn.transaction():
        if await conn.execute(q.DELETE, user_id, blocked_id) == "DELETE 1":
            await live.blocks(conn, user_id, blocked_id, False)


async def blocks(conn: asyncpg.Connection, user_id: int, limit: int, cursor: str | None) -> m.BlockPage:
    items, next_cursor = await fetch_page(
        conn,
        q.PAGE,
        user_id,
        limit=limit,
        cursor=cursor,
        item=lambda row: from_row(m.Block, row),
        key=("blocked_at", "sort_id"),
        types=(datetime, int),
    )
    return m.BlockPage(items=items, next_cursor=next_cursor)
