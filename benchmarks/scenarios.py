"""What `make bench` measures. Each domain adds its scenarios here; all are compared with `baseline`.

A scenario seeds what it needs (once, before the servers start) and names one request for wrk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from service.settings import Settings


@dataclass
class Request:
    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    describe: str
    # seed(conn, settings) -> the request to hammer; runs once against the benchmark database.
    seed: Callable[[asyncpg.Connection, Settings], Awaitable[Request]]
    goal: str = ""


async def seed_users(conn: asyncpg.Connection, count: int = 1000) -> list[int]:
    rows = await conn.fetch(
        "INSERT INTO users (appid, openid, nickname) "
        "SELECT 'bench', 'openid-' || g, 'user ' || g FROM generate_series(1, $1) g "
        "ON CONFLICT (appid, openid) DO UPDATE SET nickname = excluded.nickname RETURNING id",
        count,
    )
    return [row["id"] for row in rows]


async def _bare(conn: asyncpg.Connection, settings: Settings) -> Request:
    return Request("/bench/bare")


async def _baseline(conn: asyncpg.Connection, settings: Settings) -> Request:
    ids = await seed_users(conn)
    return Request(f"/bench/users/{ids[len(ids) // 2]}")


BASELINE = Scenario("baseline", "GET one user by primary key (one asyncpg SELECT)", _baseline)

SCENARIOS: list[Scenario] = [
    Scenario("bare", "GET a msgspec struct, no database", _bare),
]
