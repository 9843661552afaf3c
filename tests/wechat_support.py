"""The WeChat sandbox for tests, and logging in through it as a named member.

tokens = await login(client, sandbox.url, "alice")
me = await client.get("/v1/me", headers=bearer(tokens))
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from service.wechat.sandbox import SandboxConfig, SandboxState, create_sandbox_app
from tests.support import http_client, idle_app, make_settings, serve


def sandbox_config(**overrides: object) -> SandboxConfig:
    """The sandbox as `python -m service sandbox` configures it (same fixed appid and secret as the API)."""
    return SandboxConfig.from_settings(make_settings("postgresql://unused/unused"), **overrides)


@dataclass
class Sandbox:
    url: str
    state: SandboxState
    http: httpx.AsyncClient  # a client for the sandbox's own /sandbox control calls

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    async def wx_login(self, user: str, *, with_unionid: bool = False) -> str:
        answer = await self.control("POST", "/sandbox/wx-login", json={"user": user, "withUnionid": with_unionid})
        return answer["code"]

    async def phone_code(self, user: str, phone_number: str | None = None) -> str:
        body = {"user": user} if phone_number is None else {"user": user, "phoneNumber": phone_number}
        return (await self.control("POST", "/sandbox/phone-code", json=body))["code"]

    async def share_info(self, user: str, group: str) -> dict[str, str]:
        """What wx.getShareInfo gives ``user`` (under their latest wx.login) who opened a card in ``group``."""
        ticket = (await self.control("POST", "/sandbox/share-ticket", json={"group": group}))["shareTicket"]
        return await self.control("POST", "/sandbox/share-info", json={"user": user, "shareTicket": ticket})

    async def fault(self, mode: str, *, count: int | None = None, delay: float = 0.0, path_prefix: str = "/") -> None:
        body = {"mode": mode, "count": count, "delaySeconds": delay, "pathPrefix": path_prefix}
        await self.control("POST", "/sandbox/faults", json=body)

    async def stats(self) -> dict[str, int]:
        return await self.control("GET", "/sandbox/stats")


@contextlib.asynccontextmanager
async def run_sandbox(config: SandboxConfig | None = None) -> AsyncIterator[Sandbox]:
    """The sandbox app is built once per worker (building its routes took a tenth of a worker's CPU when every
    test built its own); each run gets a state of its own, which the handlers read per request."""
    config = config or sandbox_config()
    with idle_app(("wechat sandbox",), lambda: create_sandbox_app(config)) as app:
        app.state.sandbox = SandboxState(config)
        async with serve(app) as url, http_client(base_url=url, timeout=10) as http:
            yield Sandbox(url=url, state=app.state.sandbox, http=http)


async def wx_login(sandbox_url: str, user_name: str, *, with_unionid: bool = False) -> str:
    """A fresh wx.login code for ``user_name`` (the same name is always the same WeChat user)."""
    async with http_client(base_url=sandbox_url, timeout=10) as http:
        response = await http.post("/sandbox/wx-login", json={"user": user_name, "withUnionid": with_unionid})
    response.raise_for_status()
    return response.json()["code"]


async def login(client: httpx.AsyncClient, sandbox_url: str, user_name: str) -> dict[str, Any]:
    """Log in as ``user_name`` through the sandbox; the login answer (accessToken, refreshToken, user, ...)."""
    code = await wx_login(sandbox_url, user_name)
    response = await client.post("/v1/auth/login", json={"code": code})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: dict[str, Any] | str) -> dict[str, str]:
    token = tokens if isinstance(tokens, str) else tokens["accessToken"]
    return {"authorization": f"Bearer {token}"}


async def wait_for_lock_waiters(conn: asyncpg.Connection, count: int) -> None:
    """Until ``count`` statements of this database wait for a lock (a test holding one open in a transaction)."""
    sql = """SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'"""
    for _ in range(250):
        await conn.execute("SELECT pg_stat_clear_snapshot()")  # the holder is in a transaction: no cached view
        if await conn.fetchval(sql) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never saw {count} statements waiting for a lock")


async def refresh_first(
    database_url: str, client: httpx.AsyncClient, refresh_token: str, other: Coroutine[Any, Any, httpx.Response]
) -> tuple[httpx.Response, httpx.Response]:
    """Run a refresh and ``other`` so that the refresh is in flight (past its first lock) when ``other`` starts
    and waits behind it: a test connection holds the token's row until both wait, only to order them."""
    holder = await asyncpg.connect(database_url)
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute(
            "SELECT 1 FROM refresh_tokens WHERE token_hash = sha256($1::text::bytea) FOR UPDATE", refresh_token
        )
        refreshing = asyncio.create_task(client.post("/v1/auth/refresh", json={"refreshToken": refresh_token}))
        await wait_for_lock_waiters(holder, 1)
        racing = asyncio.create_task(other)
        await wait_for_lock_waiters(holder, 2)
        await tx.rollback()
        return await refreshing, await racing
    finally:
        await holder.close()
