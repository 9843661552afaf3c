from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from service.db.migrate import migrate
from service.db.pool import connect
from service.settings import Settings
from service.wechat.sandbox.keys import SandboxKeys
from tests.seed import Seeded, seed
from tests.stack import LiveStack, Stack
from tests.support import (
    CITUS_DATABASE,
    admin_dsn,
    api_client,
    create_database,
    drop_database,
    empty_citus_database,
    make_settings,
    unique_name,
    with_database,
)
from tests.wechat_support import Sandbox, run_sandbox


@pytest.fixture(scope="session")
def admin_url() -> str:
    return admin_dsn()


@pytest.fixture(scope="session")
def template_db(admin_url: str) -> str:
    """A database with every migration applied, cloned for each test."""
    if CITUS_DATABASE:
        yield ""
        return
    name = unique_name("tpl")

    async def build() -> None:
        await create_database(admin_url, name)
        conn = await connect(with_database(admin_url, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(build())
    yield name
    asyncio.run(drop_database(admin_url, name))


@pytest.fixture
async def database_url(admin_url: str, template_db: str) -> AsyncIterator[str]:
    """A fresh database per test, so tests run in any order and may use many connections."""
    if CITUS_DATABASE:
        await empty_citus_database(CITUS_DATABASE)
        yield CITUS_DATABASE
        return
    name = unique_name("t")
    await create_database(admin_url, name, template=template_db)
    yield with_database(admin_url, name)
    await drop_database(admin_url, name)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """The WeChat sandbox on a free loopback port, its state at hand for assertions."""
    async with run_sandbox() as running:
        yield running


@pytest.fixture
def settings(database_url: str, sandbox: Sandbox) -> Settings:
    return make_settings(database_url, wechat_api_base=sandbox.url)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings) as client:
        yield client


# -- one live stack per module, for synchronous clients (schemathesis, the role matrix) --------------------


@pytest.fixture(scope="session")
def pay_keys() -> SandboxKeys:
    return SandboxKeys.generate()


@pytest.fixture(scope="module")
def live_stack(admin_url: str, template_db: str, pay_keys: SandboxKeys) -> Iterator[LiveStack]:
    """The whole stack in a thread of its own over a database of its own, shared by the tests of a module.
    Newcomer limits are off: the seeded members joined a moment ago and the tests write a lot. The seeded
    access tokens outlive a long run (`make fuzz`), which would otherwise end in a wall of 401s."""
    name = unique_name("live")
    asyncio.run(create_database(admin_url, name, template=template_db))
    stack = LiveStack(with_database(admin_url, name), pay_keys, newcomer_hours=0, access_token_ttl=6 * 3600)
    try:
        with stack.running():
            yield stack
    finally:
        asyncio.run(drop_database(admin_url, name))


@pytest.fixture(scope="module")
def live(live_stack: LiveStack) -> Stack:
    assert live_stack.stack is not None
    return live_stack.stack


@pytest.fixture(scope="module")
def seeded(live_stack: LiveStack, live: Stack) -> Seeded:
    return live_stack.run(seed(live))
