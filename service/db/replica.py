"""Reads a streaming replica may serve, with bounded staleness and the primary as fallback (infra/README.md).

`ReadRouter.read(fn)` runs `fn(connection, as_of)` on the replica (DATABASE_REPLICA_URL) while it is usable, else on
the primary. `as_of` is a time on the primary's clock before which every committed write is on the replica (None
on the primary, which has them all): what a reader's own newer writes are compared with (the feed's shared pages).

Staleness is measured against the primary, not taken from the replica's word: every REPLICA_MAX_LAG / 4 seconds a
watcher notes the primary's WAL position (its own connection) and then asks the replica how far it has replayed.
The newest noted position the replica has replayed tells since when it holds every write, so the bound still holds
when the replica silently stops receiving (a replica's own `now() - pg_last_xact_replay_timestamp()` would say 0).
A read goes to the replica only while that is at most REPLICA_MAX_LAG seconds ago, evaluated at the read: a
watcher that stalls makes the replica unusable by itself.

The noted position is where the primary inserts its next WAL record, in a statement that takes a transaction id:
its commit flushes the WAL up to there. A replica replays only whole records, and the primary writes the last,
partial page of a record only when something flushes it: a quiet primary (a read pruning a page writes WAL and
commits nothing) would otherwise leave its write position in the middle of a record, out of the replica's reach
for seconds. The cost: one tiny commit and one transaction id per round and API process.

A replica that is unreachable, or fails under a read (connection refused or lost, the server shutting down, a
query cancelled by a recovery conflict), is left alone: that read runs again on the primary, the client sees no
error, and the replica is used again once the watcher finds it reachable and caught up. Each change of state is
logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import asyncpg

from service.db.pool import DATABASE_ERRORS, caused_by_unavailable, create_pool
from service.settings import Settings

log = logging.getLogger("service.db.replica")

T = TypeVar("T")
Read = Callable[[asyncpg.Connection, datetime | None], Awaitable[T]]

# What a replica answers when replaying the primary's WAL cancels a read (a conflict with recovery: a vacuumed row
# or a lock the read needed) or its database goes away under it: the same read on the primary succeeds.
RECOVERY_CONFLICTS = frozenset({"40001", "40P01", "57P04"})
CONNECT_TIMEOUT = 2.0  # seconds to open a replica connection; a replica out of reach must not hold a read long
APPLICATION_NAME = "service-replica-reads"  # how the replica's pg_stat_activity names our connections
NOT_CHECKED = "not checked yet"
CLOSE_TIMEOUT = 5.0  # seconds reads in flight on the replica may take to finish at shutdown
# Where the primary stands: its clock, and the end of its WAL, flushed by this statement's commit (an id is taken).
PRIMARY_POSITION = "SELECT now(), pg_current_wal_insert_lsn() - '0/0'::pg_lsn, pg_current_xact_id()"


def replica_failed(exc: BaseException) -> bool:
    """Whether `exc`, raised by a read on the replica, means the replica failed (the read may run on the primary)."""
    if caused_by_unavailable(exc):
        return True
    return isinstance(exc, asyncpg.PostgresError) and exc.sqlstate in RECOVERY_CONFLICTS


class ReadRouter:
    """The primary's pool, the replica's (none without DATABASE_REPLICA_URL) and the watcher choosing between them."""

    def __init__(self, primary: asyncpg.Pool, settings: Settings) -> None:
        self.primary = primary
        self.settings = settings
        self.max_lag = settings.replica_max_lag
        self.interval = min(max(self.max_lag / 4, 0.05), 1.0)
        self.replica: asyncpg.Pool | None = None
        self.served: Counter[str] = Counter()  # reads served by "replica" and "primary", and "fallbacks"
        self._fresh_mono: float | None = None  # monotonic time since which the replica holds every write
        self._fresh_at: datetime | None = None  # the same, on the primary's clock
        self._samples: deque[tuple[float, datetime, int]] = deque(maxlen=1000)  # (monotonic, primary clock, LSN)
        self._failure: str | None = NOT_CHECKED  # why the replica is not usable, lag aside
        self._state = "starting"  # then "replica" or "primary": where reads go, logged when it changes
        self._watcher: asyncio.Task[None] | None = None
        self._conns: dict[str, asyncpg.Connection | None] = {"primary": None, "replica": None}

    async def start(self) -> None:
        dsn = self.settings.database_replica_url
        if not dsn:
            return
        # No connection yet (min_size 0): start-up does not wait for the replica, nor fail without it.
        self.replica = await create_pool(
            self.settings,
            dsn,
            min_size=0,
            timeout=CONNECT_TIMEOUT,
            server_settings={"application_name": APPLICATION_NAME},
        )
        self._watcher = asyncio.create_task(self._watch(), name="replica-watcher")

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for conn in self._conns.values():
            if conn is not None:
                conn.terminate()
        if self.replica is not None:
            try:
                await asyncio.wait_for(self.replica.close(), CLOSE_TIMEOUT)  # reads in flight finish first
            except TimeoutError:
                self.replica.terminate()

    # -- choosing ---------------------------------------------------------------------------------------------

    def lag(self) -> float | None:
        """Seconds the replica may be behind the primary now; None before the first check."""
        return None if self._fresh_mono is None else time.monotonic() - self._fresh_mono

    def usable(self) -> bool:
        """Whether a read now would go to the replica; logs when that changes (the reason with it)."""
        if self.replica is None:
            return False
        lag = self.lag()
        if self._failure is not None:
            reason = self._failure
        elif lag is None or lag > self.max_lag:
            reason = "lagging"
        else:
            reason = None
        state = "replica" if reason is None else "primary"
        if state != self._state and self._failure != NOT_CHECKED:
            self._transition(state, reason, lag)
        return reason is None

    def _transition(self, state: str, reason: str | None, lag: float | None) -> None:
        self._state = state
        details: dict[str, object] = {"maxLag": self.max_lag}
        if lag is not None:
            details["lag"] = round(lag, 3)
        if reason is None:
            log.info("reads served by the replica", extra=details)
        else:
            log.warning("reads fall back to the primary", extra={**details, "reason": reason})

    async def read(self, fn: Read[T]) -> T:
        """`fn(connection, as_of)` on the replica when usable, else (or when the replica fails under it) on the
        primary, where `as_of` is None."""
        if self.replica is not None and self.usable():
            as_of = self._fresh_at
            try:
                async with self.replica.acquire() as conn:
                    result = await fn(conn, as_of)
            except Exception as exc:
                if not replica_failed(exc):
                    raise
                await self._failed(exc)
            else:
                self.served["replica"] += 1
                return result
        async with self.primary.acquire() as conn:
            result = await fn(conn, None)
        self.served["primary"] += 1
        return result

    async def _failed(self, exc: BaseException) -> None:
        self.served["fallbacks"] += 1
        self._failure = f"{type(exc).__name__}: {exc}"[:200]
        if self.replica is not None:
            await self.replica.expire_connections()  # the others went with the server: new ones once it is back
        self.usable()  # logs the change

    # -- watching ---------------------------------------------------------------------------------------------

    async def _connection(self, role: str, dsn: str) -> asyncpg.Connection:
        conn = self._conns[role]
        if conn is None or conn.is_closed():
            conn = self._conns[role] = await asyncpg.connect(
                dsn,
                timeout=CONNECT_TIMEOUT,
                command_timeout=max(self.interval * 4, CONNECT_TIMEOUT),
                server_settings={"application_name": f"{APPLICATION_NAME}-watcher"},
            )
        return conn

    def _drop(self, role: str) -> None:
        conn, self._conns[role] = self._conns[role], None
        if conn is not None:
            conn.terminate()

    async def _watch(self) -> None:
        while True:
            try:
                await self.check()
            except Exception as exc:  # a bug here must not stop the watching (the replica would stay as it was)
                log.exception("replica watcher failed")
                self._failure = f"watcher failed: {type(exc).__name__}"
            await asyncio.sleep(self.interval)

    async def check(self) -> None:
        """One round of the watcher: note the primary's WAL position, then see how far the replica replayed."""
        assert self.settings.database_url and self.settings.database_replica_url
        try:
            primary = await self._connection("primary", self.settings.database_url)
            noted = time.monotonic()  # before the query: every write acknowledged by then is at or before its LSN
            at, lsn, _ = await primary.fetchrow(PRIMARY_POSITION)
            self._samples.append((noted, at, int(lsn)))
        except DATABASE_ERRORS:
            self._drop("primary")  # no new sample: the lag grows until the primary answers again
        try:
            replica = await self._connection("replica", self.settings.database_replica_url)
            replayed = await replica.fetchval("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")
        except DATABASE_ERRORS as exc:
            self._drop("replica")
            self._failure = f"{type(exc).__name__}: {exc}"[:200]
        else:
            if replayed is None:
                self._failure = "not a standby (pg_last_wal_replay_lsn() is null)"
            else:
                self._failure = None
                self._advance(int(replayed))
        self.usable()

    def _advance(self, replayed: int) -> None:
        """The newest sample the replica has replayed becomes its freshness; older samples are dropped."""
        newest = None
        while self._samples and self._samples[0][2] <= replayed:
            newest = self._samples.popleft()
        if newest is not None and (self._fresh_mono is None or newest[0] > self._fresh_mono):
            self._fresh_mono, self._fresh_at = newest[0], newest[1]
