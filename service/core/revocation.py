"""Access tokens of an erased account stop working at once, in every API process.

Access tokens are checked without the database (tokens.py). The erasure (a job in the worker) sends
`NOTIFY account_erased, '<user id>'` in its transaction; each API process listens on a connection of its own and
refuses the ids it heard. At start, and again after the listening connection was lost, a process reads the accounts
erased within one access-token lifetime (older tokens have expired anyway). Refresh tokens are deleted by the erasure
itself, so none can mint a new access token. What holds a token beyond a request (a live socket) `watch`es the ids.

A token checked before the erasure committed is good for the rest of its request, which may wait (on WeChat's content
check) and write after the erasure: a member's write therefore starts its transaction with `hold_account`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import asyncpg

from service.db.pool import DATABASE_ERRORS
from service.errors import Problem
from service.settings import Settings

log = logging.getLogger("service.revocation")

CHANNEL = "account_erased"
NOTIFY = f"SELECT pg_notify('{CHANNEL}', $1::bigint::text)"
_RECENT = "SELECT id FROM users WHERE erased_at > now() - make_interval(secs => $1)"

# A member's account as a lock of its own (advisory: this namespace and the id folded into int4, where two ids
# sharing a key only wait for each other). A write holds it shared for its transaction, then reads the account;
# the erasure takes it alone before anything else (auth's deletion, without waiting): either the write waits for an
# erasure under way and then reads the tombstone, or it holds the lock first and the erasure passes the member over
# until its next run, which erases what the write stored. Not a row lock on users: on Citus, where users is a
# reference table, any row lock there also locks the table's whole shard (every write would hold up every login).
_ACCOUNT = 1_633_907_054  # the namespace: any constant no other advisory lock uses
_TAKE = "SELECT pg_try_advisory_xact_lock($1, ($2::bigint % 2147483647)::int)"
_HOLD = "SELECT count(pg_advisory_xact_lock_shared($1, (u % 2147483647)::int)) FROM unnest($2::bigint[]) u"
# After the locks, in a statement of its own: its snapshot is taken once they are held.
_STANDING = "SELECT id FROM users WHERE id = ANY($1::bigint[]) AND erased_at IS NULL"


async def hold_account(conn: asyncpg.Connection, user_id: int) -> None:
    """First in a member's write transaction: the account stays until it commits; erased meanwhile, 401
    `unauthorized` and nothing is written."""
    if not await hold_accounts(conn, [user_id]):
        raise Problem("unauthorized", "this account was deleted")


async def hold_accounts(conn: asyncpg.Connection, user_ids: list[int]) -> set[int]:
    """The accounts held for the caller's transaction (a member's write, or a job writing for many members at
    once); answers those not erased (write nothing for the others)."""
    if not user_ids:
        return set()
    await conn.execute(_HOLD, _ACCOUNT, user_ids)
    return {row["id"] for row in await conn.fetch(_STANDING, user_ids)}


async def take_account(conn: asyncpg.Connection, user_id: int) -> bool:
    """For the erasure, first in its transaction: the account alone until it commits, or False while a write of
    the member's holds it (then pass the member over until the next run)."""
    return await conn.fetchval(_TAKE, _ACCOUNT, user_id)


class ErasedAccounts:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._heard: dict[int, float] = {}  # user id -> when heard (monotonic), forgotten after a token lifetime
        self._conn: asyncpg.Connection | None = None
        self._reconnecting: asyncio.Task | None = None
        self._closed = False
        self._watchers: list[Callable[[int], None]] = []

    def __contains__(self, user_id: int) -> bool:
        return user_id in self._heard

    def _add(self, user_id: int) -> None:
        now = time.monotonic()
        stale = [uid for uid, at in self._heard.items() if at < now - self._settings.access_token_ttl]
        for uid in stale:
            del self._heard[uid]
        self._heard[user_id] = now
        for watcher in list(self._watchers):
            watcher(user_id)

    def watch(self, watcher: Callable[[int], None]) -> Callable[[], None]:
        """Call ``watcher`` with each erased id heard (or read again after the listener was lost); returns the
        unwatch."""
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher)

    async def start(self) -> None:
        conn = await asyncpg.connect(self._settings.database_url)
        try:
            # Listen first, then read: an erasure committed in between is heard or read, never missed.
            await conn.add_listener(CHANNEL, self._notified)
            for row in await conn.fetch(_RECENT, self._settings.access_token_ttl):
                self._add(row["id"])
        except BaseException:
            await conn.close()
            raise
        conn.add_termination_listener(self._lost)
        self._conn = conn

    def _notified(self, conn: object, pid: int, channel: str, payload: str) -> None:
        self._add(int(payload))

    def _lost(self, conn: object) -> None:
        if not self._closed:
            log.warning("lost the account_erased listener, reconnecting")
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.5
        while not self._closed:
            try:
                await self.start()
                return
            except DATABASE_ERRORS as exc:
                log.warning("account_erased listener unavailable", extra={"error": repr(exc), "retryIn": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._conn is not None:
            await self._conn.close()
