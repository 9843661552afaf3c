"""The order's row lock, taken on its community's shard.

Under Citus (service/db/citus.sql) an order lives on its community's shard, and a row lock (FOR UPDATE) is taken
only by a statement that names community_id. A caller that knows only the order's id reads
its community first (an order never changes community), then locks it there. On one server: one more
index lookup.
"""

from __future__ import annotations

import asyncpg

from service.core.money import queries


async def lock_order(conn: asyncpg.Connection, order_id: int) -> asyncpg.Record | None:
    community_id = await conn.fetchval(queries.ORDER_COMMUNITY, order_id)
    return None if community_id is None else await conn.fetchrow(queries.LOCK_ORDER, community_id, order_id)
