"""The WeChat access token, shared by every instance through one PostgreSQL row.

WeChat's stable_token gives every caller the same token while it is valid, but a forced refresh
invalidates the old one. So: read the shared row; when it is near expiry, one instance refreshes it under
an advisory lock while the others wait and then read the new token. A forced refresh happens only when
WeChat rejected the very token the row still holds (errcode 40001 or 42001), never on a hunch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg

from service.wechat import queries

log = logging.getLogger("service.wechat.tokens")

# (force_refresh) -> (access_token, expires_in seconds)
Fetch = Callable[[bool], Awaitable[tuple[str, int]]]


class AccessTokenCache:
    def __init__(self, pool: asyncpg.Pool, appid: str, fetch: Fetch, *, margin: int) -> None:
        self._pool = pool
        self._appid = appid
        self._fetch = fetch
        self._margin = margin
        self._lock = asyncio.Lock()  # one refresher per process; the advisory lock covers the others
        self._memo: tuple[str, float] | None = None  # (token, expires_at epoch): spares a query per call

    def _usable(self, token: str | None, expires_at: float | None, stale: str | None) -> bool:
        return (
            token is not None and token != stale and expires_at is not None and expires_at - self._margin > time.time()
        )

    async def get(self, *, stale: str | None = None) -> str:
        """A valid token. ``stale``: a token WeChat just rejected, which must not be handed out again."""
        if self._memo and self._usable(*self._memo, stale):
            return self._memo[0]
        async with self._lock:
            if self._memo and self._usable(*self._memo, stale):
                return self._memo[0]
            async with self._pool.acquire() as conn:
                row = await conn.fetchrow(queries.SELECT_ACCESS_TOKEN, self._appid)
                if row and self._usable(row["access_token"], row["expires_at"], stale):
                    self._memo = (row["access_token"], row["expires_at"])
                    return row["access_token"]
                async with conn.transaction():
                    await conn.execute(queries.LOCK_ACCESS_TOKEN, self._appid)
                    # Another instance may have refreshed while we waited for the lock.
                    row = await conn.fetchrow(queries.SELECT_ACCESS_TOKEN, self._appid)
                    if row and self._usable(row["access_token"], row["expires_at"], stale):
                        self._memo = (row["access_token"], row["expires_at"])
                        return row["access_token"]
                    force = stale is not None and row is not None and row["access_token"] == stale
                    token, expires_in = await self._fetch(force)
                    expires_at = (
                        await conn.fetchval(queries.UPSERT_ACCESS_TOKEN, self._appid, token, expires_in)
                    ).timestamp()
            log.info("wechat access token refreshed", extra={"forced": force, "expiresIn": expires_in})
            self._memo = (token, expires_at)
            return token
