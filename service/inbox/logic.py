"""Reading, counting and marking my inbox."""

from __future__ import annotations

from functools import partial

import asyncpg

from service.core.paging import fetch_page, since_id
from service.core.rows import from_row, invalid
from service.inbox import models as m
from service.inbox import queries as q


async def page(
    conn: asyncpg.Connection, user_id: int, limit: int, cursor: str | None, since: str | None = None
) -> m.NotificationPage:
    item = partial(from_row, m.Notification)
    if (newer_than := since_id(since, cursor)) is not None:
        # never more than a page: no cursor
        items, next_cursor = [item(row) for row in await conn.fetch(q.SINCE, user_id, newer_than, limit)], None
    else:
        items, next_cursor = await fetch_page(conn, q.PAGE, user_id, limit=limit, cursor=cursor, item=item)
    unread_count = await conn.fetchval(q.UNREAD, user_id)
    return m.NotificationPage(items=items, unread_count=unread_count, next_cursor=next_cursor)


async def unread(conn: asyncpg.Connection, user_id: int) -> m.Unread:
    return m.Unread(unread_count=await conn.fetchval(q.UNREAD, user_id))


async def mark_read(conn: asyncpg.Connection, user_id: int, data: m.MarkRead) -> m.Unread:
    """Marking what is read already, or someone else's ids, changes nothing."""
    if (data.up_to_id is None) == (not data.ids):
        raise invalid("upToId", "send either upToId or ids")
    if data.up_to_id is not None:
        await conn.execute(q.MARK_UP_TO, user_id, int(data.up_to_id))
    else:
        await conn.execute(q.MARK_IDS, user_id, [int(item) for item in data.ids])
    return await unread(conn, user_id)
