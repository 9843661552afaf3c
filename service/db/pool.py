"""The asyncpg pool, with json and jsonb decoded and encoded by msgspec."""

from __future__ import annotations

import asyncpg
import msgspec

from service.settings import Settings


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name,
            schema="pg_catalog",
            encoder=lambda value: msgspec.json.encode(value).decode(),
            decoder=msgspec.json.decode,
            format="text",
        )


async def create_pool(settings: Settings, dsn: str | None = None) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn or settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=settings.db_command_timeout,
        init=_init_connection,
    )


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn
