"""The limit every route is measured against: Litestar and one asyncpg primary-key SELECT, nothing else of the
app (no middleware, no token, no settings, no logging). The in-app baseline (`/bench/users/{id}`) carries the
app's middleware and is itself below this; ratios against it alone would flatter every route."""

from __future__ import annotations

import os

import asyncpg
import msgspec
from litestar import Litestar, get
from litestar.datastructures import State


class Row(msgspec.Struct, frozen=True):
    id: str
    nickname: str


@get("/bench/users/{user_id:int}")
async def one_query(user_id: int, state: State) -> Row:
    row = await state.pool.fetchrow("SELECT id, nickname FROM users WHERE id = $1", user_id)
    return Row(id=str(row["id"]), nickname=row["nickname"])


@get("/readyz")
async def ready() -> str:
    return "ok"


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset query on release, as the app's pool (service/db/pool.py): with asyncpg's, every request paid a
    second round trip (RESET ALL, UNLISTEN, CLOSE ALL) and this limit fell below the app's own baseline."""


async def _open(app: Litestar) -> None:
    app.state.pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=10, max_size=10, reset=_keep_session
    )


async def _close(app: Litestar) -> None:
    await app.state.pool.close()


def app_from_env() -> Litestar:
    return Litestar([one_query, ready], on_startup=[_open], on_shutdown=[_close], openapi_config=None)
