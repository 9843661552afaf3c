"""Test support: real PostgreSQL databases and the app served over real loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import httpx
import uvicorn
from litestar import Litestar

from service.app import create_app
from service.settings import Settings, load_settings
from service.wechat.sandbox.keys import in_memory_keys, pay_sandbox_settings
from service.wechat.tls import tls_context

ROOT = Path(__file__).resolve().parent.parent
KIT = ROOT / "openapi"  # the front-end kit: spec, generated types, the wx.request wrapper
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def admin_dsn() -> str:
    """DATABASE_URL when set, else an embedded PostgreSQL of this checkout's (embedded_data_dir)."""
    if dsn := os.environ.get("DATABASE_URL"):
        return dsn
    from service.db import embedded

    data_dir = embedded_data_dir()
    # In memory, the cluster goes with the run (an initdb, about 2 s, per pytest run): RAM is not left behind.
    return embedded.start(data_dir, keep=data_dir.is_relative_to(ROOT))


def embedded_data_dir() -> Path:
    """In memory (/dev/shm) where the machine has it, else under .data/test-pg. Every test clones a database of
    about 800 files and drops it again: on ext4, creating files among that many recently deleted ones costs the
    kernel about 0.5 s per clone (inode allocation avoids recently freed inodes), 0.04 s on tmpfs."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
        return shm / f"community-test-pg-{checkout}"
    return ROOT / ".data" / "test-pg"


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


def unique_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


async def create_database(admin: str, name: str, template: str | None = None) -> None:
    conn = await asyncpg.connect(admin)
    try:
        template_clause = f" TEMPLATE {template}" if template else ""
        # Every test clones the template: copying its files takes a third less time than PostgreSQL 15's default
        # (WAL_LOG, which writes every page into the WAL), 26 against 40 ms for the 13 MB template.
        if template and conn.get_server_version().major >= 15:
            template_clause += " STRATEGY FILE_COPY"
        await conn.execute(f"CREATE DATABASE {name}{template_clause}")
    finally:
        await conn.close()


async def drop_database(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def scratch_database_in_loop(admin: str, prefix: str) -> AsyncIterator[str]:
    """`scratch_database` for a benchmark that runs inside an event loop (always dropped)."""
    name = unique_name(prefix)
    await create_database(admin, name)
    try:
        yield with_database(admin, name)
    finally:
        await drop_database(admin, name)


@contextlib.contextmanager
def scratch_database(admin: str, prefix: str, *, keep: bool = False) -> Iterator[str]:
    """A new empty database on ``admin``'s server for one benchmark run, outside any event loop: its DSN. Dropped
    afterwards, also when the run fails (a full `make bench` seeds about 1.4 GB), unless ``keep``."""
    name = unique_name(prefix)
    asyncio.run(create_database(admin, name))
    try:
        yield with_database(admin, name)
    finally:
        if not keep:
            asyncio.run(drop_database(admin, name))


# `make citus-check` (tests/citus_check.py) runs chosen tests against the one distributed database of a local
# Citus cluster (a template clone would not be distributed): emptied before each test instead.
CITUS_DATABASE = os.environ.get("CITUS_CHECK_DATABASE_URL")


async def empty_citus_database(url: str) -> None:
    """Back to what migrate and distribute left: tables a test made dropped, every other table emptied but those
    whose rows the migrations seed."""
    from service.db.migrate import discover

    # Rows a migration writes itself, not those its functions write when called (function bodies left out).
    seeded = {
        t for m in discover() for t in re.findall(r"INSERT INTO (\w+)", re.sub(r"\$\$.*?\$\$", "", m.sql, flags=re.S))
    }
    conn = await asyncpg.connect(url)
    try:
        placed = {r[0] for r in await conn.fetch("SELECT logicalrelid::regclass::text FROM pg_dist_partition")}
        made = await conn.fetch(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') "
            "AND NOT relispartition AND NOT relname = ANY($1)",
            list(placed),
        )
        for (name,) in made:
            await conn.execute(f"DROP TABLE {name} CASCADE")
        await conn.execute(f"TRUNCATE {', '.join(sorted(placed - seeded - {'schema_migrations'}))} CASCADE")
    finally:
        await conn.close()


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "access_log": True,
        "db_pool_min": 1,
        "db_pool_max": 20,
        # Every test logs in from 127.0.0.1: the per-address login limit is tested on its own.
        "login_rate_per_address": 100_000,
        # Feed rules are asserted right after other members act: the page cache (tests/feed/test_cache.py)
        # lets their writes show only after its TTL.
        "feed_cache_seconds": 0,
        # Likewise members write a lot in tests: the write flood limit is tested on its own.
        "write_rate_posts": 100_000,
        "write_rate_comments": 100_000,
        "create_rate_communities": 100_000,
        "create_rate_invites": 100_000,
        # Search and phone binding are limited per member: each limit is tested on its own.
        "search_per_minute": 100_000,
        "phone_binds_per_hour": 100_000,
        # Photos stored locally go to a folder of this database's own, outside the checkout.
        "media_dir": os.path.join(tempfile.gettempdir(), "community-media", database_name(database_url)),
    }
    if CITUS_DATABASE:
        # Through the coordinator a queue on one community's lock outlasts 10 s on loaded cores (infra/README.md).
        values["db_command_timeout"] = 60.0
    values.update(overrides)
    # No merchant: a Pay sandbox's keys, kept in memory (`make run` passes the development sandbox's likewise).
    values = {**pay_sandbox_settings(load_settings({}, **values), in_memory_keys), **values}
    return load_settings({}, **values)


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A socket bound to a free port, for an app that must know its own URL before it serves (WeChat Pay
    notifies it). TCP explicitly: asyncio turns Nagle off only on sockets whose protocol says TCP, and a
    socket made with protocol 0 answers every request 40 ms late (Nagle meets delayed ACK)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((host, 0))
    return sock


@contextlib.asynccontextmanager
async def serve(app, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app over loopback HTTP in this event loop (on ``sock``, else a free port); yields its URL.

    Started and stopped through uvicorn's startup/shutdown steps rather than its run loop: the loop's 0.1 s
    tick and the shutdown's fixed 0.1 s grace cost every test about 0.4 s for its two servers."""
    sock = sock or bound_socket()
    # proxy_headers off: uvicorn would otherwise take X-Forwarded-For from 127.0.0.1 as the client, which
    # granian (what serves in production) never does; the app decides (service/core/addresses.py).
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False, proxy_headers=False)
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    if server.should_exit:
        sock.close()
        raise RuntimeError("server stopped during start-up")
    await server.on_tick(0)  # the default headers (date, server)
    try:
        yield "http://{}:{}".format(*sock.getsockname())
    finally:
        for listener in server.servers:
            listener.close()
        for connection in list(server.server_state.connections):
            connection.shutdown()
        async with asyncio.timeout(10):
            while server.server_state.connections or server.server_state.tasks:
                await asyncio.sleep(0.005)
        await server.lifespan.shutdown()
        sock.close()


# Apps built by this worker process and not serving now, by what is fixed when an app is built.
_IDLE_APPS: dict[tuple, list[Litestar]] = {}


def _identity(value: object) -> tuple[int, ...]:
    return tuple(map(id, value)) if isinstance(value, list | tuple) else (id(value),)


@contextlib.asynccontextmanager
async def reused_app(settings: Settings, **app_kwargs) -> AsyncIterator[Litestar]:
    """An app for ``settings``, built once per worker and shape: registering 250 routes costs more than most
    tests. Each start-up applies its settings afresh (service/app.py), so every test still gets its own database,
    sandbox, pool and caches. What create_app fixes at build time is the key: the body limit, the access log,
    and the arguments (domains, extra routes, an HTTP client). A list or tuple is keyed by what it holds: a test
    that writes `extra_routes=[...]` makes a new list each time, and keying by the list's identity kept one idle
    app per such test for the rest of the run (20 in a worker of the suite)."""
    key = (
        settings.max_body_bytes,
        settings.access_log,
        *sorted((name, _identity(v)) for name, v in app_kwargs.items()),
    )
    with idle_app(key, lambda: create_app(settings, **app_kwargs)) as app:
        app.state.settings = settings
        yield app


@contextlib.contextmanager
def idle_app(key: tuple, build: Callable[[], Litestar]) -> Iterator[Litestar]:
    """An app this worker built for `key` and is not serving now, else a new one from `build`; kept for the next
    caller afterwards. The caller sets what each use needs afresh (settings, a sandbox's state)."""
    idle = _IDLE_APPS.setdefault(key, [])
    app = idle.pop() if idle else build()
    try:
        yield app
    finally:
        idle.append(app)


@contextlib.asynccontextmanager
async def api_client(settings: Settings, **app_kwargs) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over real HTTP, with a client pointed at it."""
    async with reused_app(settings, **app_kwargs) as app, serve(app) as base_url:
        async with http_client(base_url=base_url, timeout=30) as client:
            yield client


def http_client(**options: object) -> httpx.AsyncClient:
    """An httpx client on the process's one TLS context (service/wechat/tls.py): one of its own would read the CA
    bundle (22 ms), and the tests make thousands of clients."""
    return httpx.AsyncClient(verify=tls_context(), **options)


def node_tool(name: str) -> str:
    """A tool of the front-end kit's pinned npm packages (openapi/node_modules/.bin)."""
    tool = KIT / "node_modules" / ".bin" / name
    assert tool.exists(), f"{tool} is missing: run `make install` (npm ci in openapi/)"
    return str(tool)


class DatabaseGate:
    """A TCP proxy in front of PostgreSQL that a test closes and opens again: the database "goes away"
    (connections dropped, new ones refused) and comes back, without touching the shared server.

    async with DatabaseGate(database_url) as gate: ... gate.url ... await gate.close() ... await gate.open()
    """

    def __init__(self, database_url: str) -> None:
        self.target = urlsplit(database_url)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        user = f"{self.target.username}@" if self.target.username else ""
        return urlunsplit(self.target._replace(netloc=f"{user}127.0.0.1:{self.port}", query=""))

    async def _upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.target.hostname:
            return await asyncio.open_connection(self.target.hostname, self.target.port or 5432)
        # The embedded server listens on a Unix socket only: ?host=/its/socket/folder
        folder = parse_qs(self.target.query)["host"][0]
        return await asyncio.open_unix_connection(f"{folder}/.s.PGSQL.{self.target.port or 5432}")

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await self._upstream()
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Refuse new connections and cut the open ones, as a server going down does."""
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    async def __aenter__(self) -> DatabaseGate:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
