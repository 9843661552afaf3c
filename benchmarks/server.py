"""The API as benchmarked: the real app plus baseline routes that are not part of the contract."""

from __future__ import annotations

import asyncpg
import msgspec
from litestar import Litestar, get

from service.app import create_app
from service.core.deps import Db
from service.core.domain import Domain
from service.core.ids import PathId
from service.core.money.purposes import PaidOrder, Purpose
from service.domains import DOMAINS
from service.logs import configure_logging
from service.settings import load_settings
from service.wechat.sandbox.keys import load_dev_keys, pay_sandbox_settings


class Row(msgspec.Struct, frozen=True):
    id: str
    nickname: str


@get("/bench/bare", sync_to_thread=False, include_in_schema=False)
def bare() -> Row:
    """No database: the server and framework alone."""
    return Row(id="1", nickname="bare")


@get("/bench/users/{user_id:int}", include_in_schema=False)
async def one_query(user_id: PathId, db: Db) -> Row:
    """The baseline: one primary-key SELECT through the pool."""
    row = await db.fetchrow("SELECT id, nickname FROM users WHERE id = $1", user_id)
    return Row(id=str(row["id"]), nickname=row["nickname"])


async def _accept(conn: asyncpg.Connection, order: PaidOrder) -> None:
    return None


def app_from_env() -> Litestar:
    # No merchant: the development Pay sandbox's keys, as `make run` gives them (the notification benchmark signs
    # with them).
    settings = load_settings(**pay_sandbox_settings(load_settings(), load_dev_keys))
    configure_logging(settings.log_level, settings.log_format)
    # Orders seeded for the notification benchmark are bought for this purpose: paying only marks them paid.
    bench = Domain("bench", purposes=[Purpose("bench", on_paid=_accept)])
    return create_app(settings, domains=(*DOMAINS, bench), extra_routes=[bare, one_query])
