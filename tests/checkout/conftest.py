"""A world for checkout tests: the Pay sandbox and the API, both served over loopback HTTP, a test purpose
whose `on_paid` admits payers into a test table (up to a number of seats), and an in-process job worker. The
world's Pay sandbox is mounted on a WeChat sandbox (as `python -m service sandbox` runs them): its members have
visited the mini program, so the content checks of the domains' texts (a collection's title) accept them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar, post
from litestar.datastructures import State
from litestar.params import HeaderParameter, JSONBody

from service.core import money as logic
from service.core.deps import AppSettings, Pay
from service.core.domain import Domain, install, job_registry
from service.core.guard import CurrentUser
from service.core.money.models import Order
from service.core.money.purposes import PaidOrder, Purpose, RefundInfo, Refuse
from service.core.tokens import issue_access_token
from service.db.pool import create_pool
from service.domains import DOMAINS
from service.jobs import JobContext
from service.jobs.worker import Worker
from service.settings import Settings
from service.wechat.pay import WeChatPay
from service.wechat.sandbox import CONTROLLERS, create_sandbox_app
from service.wechat.sandbox.keys import SandboxKeys
from service.wechat.sandbox.pay import PaySandbox, pay_sandbox_router
from tests.support import CITUS_DATABASE, bound_socket, http_client, make_settings, reused_app, serve
from tests.wechat_support import sandbox_config

PURPOSE = "test_entry"
OPERATOR_KEY = "operator-key-0123456789-0123456789-abcdef"  # the platform operator's reward pools (test_rewards.py)


class TestOrder(msgspec.Struct, rename="camel"):
    amount_fen: int
    community_id: int  # the world's community: every order belongs to one
    subject_id: int = 1


@post("/test/orders", status_code=201)
async def create_test_order(
    data: JSONBody[TestOrder],
    user: CurrentUser,
    state: State,
    pay: Pay,
    settings: AppSettings,
    idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key")] = None,
) -> Order:
    """What a domain route (paid join, collection share) does: create the order for its purpose."""
    checkout = await logic.create_order(
        state.pool,
        pay,
        settings,
        payer_user_id=user.id,
        purpose=PURPOSE,
        subject_id=data.subject_id,
        community_id=data.community_id,
        amount_fen=data.amount_fen,
        description="Test community entry",
        idempotency_key=idempotency_key,
    )
    return checkout.order


TEST_TABLES = """
CREATE TABLE test_admissions (order_id bigint PRIMARY KEY, user_id bigint NOT NULL, subject_id bigint NOT NULL);
CREATE TABLE test_seats (subject_id bigint PRIMARY KEY, seats integer NOT NULL);
"""

# The community of the test purpose's orders and transfers, with an owner of its own.
TEST_COMMUNITY = """
WITH owner AS (INSERT INTO users (appid, openid) VALUES ('wx-test-app', 'o-test-community-owner') RETURNING id)
INSERT INTO communities (owner_id, name, welcome_template) SELECT id, 'test community', '' FROM owner RETURNING id
"""


async def _admit(conn: asyncpg.Connection, order: PaidOrder) -> Refuse | None:
    # Like a paid community: lock the subject, count, admit or refuse. Runs in the payment's transaction.
    seats = await conn.fetchval("SELECT seats FROM test_seats WHERE subject_id = $1 FOR UPDATE", order.subject_id)
    taken = await conn.fetchval("SELECT count(*) FROM test_admissions WHERE subject_id = $1", order.subject_id)
    if seats is not None and taken >= seats:
        return Refuse("community_full", "no seat left")
    await conn.execute(
        "INSERT INTO test_admissions (order_id, user_id, subject_id) VALUES ($1, $2, $3)",
        order.id,
        order.payer_user_id,
        order.subject_id,
    )
    return None


async def _leave(conn: asyncpg.Connection, order: PaidOrder, refund: RefundInfo) -> None:
    await conn.execute("DELETE FROM test_admissions WHERE order_id = $1", order.id)


# The domains and a test domain whose purpose admits payers into the test table.
TEST_DOMAINS = (*DOMAINS, Domain("checkout_test", purposes=[Purpose(PURPOSE, on_paid=_admit, on_refund=_leave)]))


@pytest.fixture(autouse=True)
def test_purpose():
    install(TEST_DOMAINS)
    yield
    install(DOMAINS)


@pytest.fixture(scope="session")
def sandbox_keys() -> SandboxKeys:
    return SandboxKeys.generate()


@dataclass
class World:
    settings: Settings
    api: httpx.AsyncClient
    control: httpx.AsyncClient  # the sandbox's control calls
    sandbox: PaySandbox
    sandbox_url: str
    pool: asyncpg.Pool
    pay: WeChatPay
    worker: Worker
    community_id: int  # what the test purpose's orders and transfers belong to

    async def user(self, openid: str | None = None) -> tuple[int, dict[str, str]]:
        """A user who has just opened the mini program (wx.login in the sandbox): WeChat checks their texts."""
        if openid is None:
            name = f"u{asyncio.get_running_loop().time():.6f}".replace(".", "")
            visited = await self.control.post("/sandbox/wx-login", json={"user": name})
            assert visited.status_code == 200, visited.text
            openid = visited.json()["openid"]
        user_id = await self.pool.fetchval(
            "INSERT INTO users (appid, openid) VALUES ($1, $2) RETURNING id", self.pay.config.appid, openid
        )
        return user_id, {"Authorization": f"Bearer {issue_access_token(self.settings, user_id)}"}

    async def order(self, headers: dict, amount_fen: int = 990, subject_id: int = 1, **extra) -> dict:
        response = await self.api.post(
            "/test/orders",
            json={"amountFen": amount_fen, "communityId": self.community_id, "subjectId": subject_id},
            headers=headers,
            **extra,
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def pay_order(self, order: dict, result: str = "success", drop: bool = False) -> dict:
        prepay_id = order["payment"]["package"].removeprefix("prepay_id=")
        response = await self.control.post("/sandbox/pay", json={"prepayId": prepay_id, "result": result, "drop": drop})
        assert response.status_code == 200, response.text
        return response.json()

    async def get_order(self, order_id: str, headers: dict) -> dict:
        response = await self.api.get(f"/v1/orders/{order_id}", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_for(self, order_id: str, headers: dict, status: str, timeout: float = 5.0) -> dict:
        async with asyncio.timeout(timeout):
            while (order := await self.get_order(order_id, headers))["status"] != status:
                await asyncio.sleep(0.02)
        return order

    async def payer_reads(self, order: dict) -> list[str | None]:
        """What WeChat's refund messages of this order tell the payer: the reasons the Pay sandbox received."""
        response = await self.control.get("/sandbox/pay/refunds", params={"outTradeNo": order["outTradeNo"]})
        assert response.status_code == 200, response.text
        return [refund["reason"] for refund in response.json()]

    async def run_due_jobs(self, rounds: int = 10) -> None:
        """Make every queued job due now and run the worker until nothing is due."""
        for _ in range(rounds):
            await self.pool.execute("UPDATE jobs SET run_at = now() WHERE status = 'queued'")
            if await self.worker.run_once() == 0:
                return

    async def ledger_violations(self) -> list:
        async with self.pool.acquire() as conn:
            return await logic.ledger_violations(conn)


@pytest.fixture
async def sandbox(sandbox_keys) -> AsyncIterator[PaySandbox]:
    # Through a Citus coordinator on the 2 shared cores of `make citus-check`, 200 payments queue ~100 ms each on
    # one community's lock (infra/README.md): its deliveries wait longer than WeChat's 10 s before giving up.
    async with http_client(timeout=60 if CITUS_DATABASE else 10) as http:
        yield PaySandbox.from_keys(sandbox_keys, http=http)


@pytest.fixture
async def sandbox_url(sandbox) -> AsyncIterator[str]:
    async with serve(Litestar(route_handlers=[pay_sandbox_router(sandbox)])) as url:
        yield url


TEST_ROUTES = (create_test_order,)


def world_settings(database_url: str, api_url: str, sandbox_url: str, keys: SandboxKeys, **overrides) -> Settings:
    values = {"public_base_url": api_url, "wechat_pay_notify_base_url": api_url, **keys.settings_overrides(sandbox_url)}
    return make_settings(database_url, **{**values, **overrides})


@pytest.fixture
async def wechat_url(sandbox) -> AsyncIterator[str]:
    """The WeChat sandbox with the Pay sandbox mounted on it."""
    async with serve(create_sandbox_app(sandbox_config(), [*CONTROLLERS, pay_sandbox_router(sandbox)])) as url:
        yield url


@pytest.fixture
async def world(database_url, sandbox, wechat_url, sandbox_keys) -> AsyncIterator[World]:
    sock = bound_socket()
    api_url = "http://{}:{}".format(*sock.getsockname())
    settings = world_settings(
        database_url, api_url, wechat_url, sandbox_keys, wechat_api_base=wechat_url, operator_api_key=OPERATOR_KEY
    )
    pool = await create_pool(settings)
    await pool.execute(TEST_TABLES)
    community_id = await pool.fetchval(TEST_COMMUNITY)
    try:
        async with (
            reused_app(settings, domains=TEST_DOMAINS, extra_routes=TEST_ROUTES) as app,
            serve(app, sock),
            http_client(base_url=api_url, timeout=120 if CITUS_DATABASE else 30) as api,
            http_client(base_url=wechat_url, timeout=120 if CITUS_DATABASE else 30) as control,
            http_client(timeout=10) as http,
        ):
            pay = WeChatPay.from_settings(settings, http)
            context = JobContext(pool=pool, settings=settings, http=http, services={"pay": pay})
            worker = Worker(
                context, job_registry(DOMAINS), concurrency=4, lease=5, poll_interval=0.05, backoff_base=0.2
            )
            yield World(settings, api, control, sandbox, wechat_url, pool, pay, worker, community_id)
    finally:
        await pool.close()
