"""The order's row lock, taken on its community's shard.

Under Citus (service/db/citus.sql) an order lives on its community's shard, and a row lock (FOR UPDATE) is taken
only by a statement that names community_id. A caller that knows only the order's id reads its community first
(core/rows.py, lock_in_community). On one server: one more index lookup.
"""

from __future__ import annotations

import asyncpg

from service.core.money import queries
from service.core.rows import lock_in_community


async def lock_order(conn: asyncpg.Connection, order_id: int) -> asyncpg.Record | None:
    return await lock_in_community(conn, queries.ORDER_COMMUNITY, queries.LOCK_ORDER, order_id)
