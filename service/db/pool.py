"""The asyncpg pool, with json and jsonb decoded and encoded by msgspec."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import asyncpg
import msgspec

from service.settings import Settings

log = logging.getLogger("service.db")

# "The database cannot be reached right now": refused, reset or timed-out connections, unresolvable hosts, a
# server shutting down, starting up or recovering from a crash, no connection slot left. Retryable, unlike a
# bug or a bad query: the pool reconnects by itself once the server is back.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    # What asyncpg raises instead, now and then, on a connection the server has just terminated
    # ("cannot switch to state 12; another operation (2) is in progress", MagicStack/asyncpg#1069).
    asyncpg.InternalClientError,
)

# Anything a query may raise when the server or the connection fails under it (the server's errors, asyncpg's
# interface errors on a closed connection, network errors): what a long-running loop survives and retries.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    *UNAVAILABLE,
)


def _lost_under_the_request(exc: BaseException) -> bool:
    # A connection whose server went away is closed by asyncpg (and, from a pool, handed back to it at once); the
    # request still holding it then gets one of these interface errors on its next query, not a connection error
    # (seen when PostgreSQL crashed mid-request in the fault run).
    lost = ("released back to the pool", "connection is closed")
    return isinstance(exc, asyncpg.InterfaceError) and any(words in str(exc) for words in lost)


def caused_by_unavailable(exc: BaseException) -> bool:
    """Whether the database going away caused `exc`, also when cleaning up on the dead connection raised another
    error on top ("cannot call Transaction.__aexit__(): the underlying connection is closed")."""
    for _ in range(10):
        # A bare OSError is a network one too ("no route to host"); its subclasses for files are not.
        if isinstance(exc, UNAVAILABLE) or type(exc) is OSError or _lost_under_the_request(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        if exc is None:
            return False
    return False


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name,
            schema="pg_catalog",
            encoder=lambda value: msgspec.json.encode(value).decode(),
            decoder=msgspec.json.decode,
            format="text",
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Released connections skip asyncpg's reset query (RESET ALL, UNLISTEN, CLOSE ALL, unlock all advisory
    locks): a round trip on every request. asyncpg still rolls back a transaction left open, and the service
    keeps no session state on pooled connections: no SET, LISTEN, cursors outside a transaction or temporary
    tables, and the one session advisory lock (migrate's) is released by its own finally."""


async def create_pool(settings: Settings, dsn: str | None = None, **options: object) -> asyncpg.Pool:
    """A pool of `dsn` (default DATABASE_URL) sized by the settings; `options` override asyncpg's arguments."""
    arguments: dict[str, object] = {
        "min_size": settings.db_pool_min,
        "max_size": settings.db_pool_max,
        "command_timeout": settings.db_command_timeout,
        "init": _init_connection,
        "reset": _keep_session,
        **options,
    }
    return await asyncpg.create_pool(dsn or settings.database_url, **arguments)


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


async def create_pool_when_reachable(
    settings: Settings, stop: asyncio.Event, max_delay: float = 30.0
) -> asyncpg.Pool | None:
    """The pool, once the database answers (a worker may start before it, or while it restarts); None when
    `stop` is set first."""
    delay = 0.5
    while not stop.is_set():
        try:
            return await create_pool(settings)
        except (OSError, *UNAVAILABLE) as exc:
            log.warning("database unreachable, retrying", extra={"error": repr(exc), "retryIn": delay})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, max_delay)
    return None
