"""Test support: real PostgreSQL databases and the app served over real loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import uvicorn

from service.app import create_app
from service.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def admin_dsn() -> str:
    """DATABASE_URL when set, else an embedded PostgreSQL kept under .data/test-pg."""
    if dsn := os.environ.get("DATABASE_URL"):
        return dsn
    from service.db import embedded

    return embedded.start(ROOT / ".data" / "test-pg")


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
        await conn.execute(f"CREATE DATABASE {name}{template_clause}")
    finally:
        await conn.close()


async def drop_database(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
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
        # Likewise members write a lot in tests: the write flood limit is tested on its own.
        "write_rate_posts": 100_000,
        "write_rate_comments": 100_000,
    }
    values.update(overrides)
    return load_settings({}, **values)


@contextlib.asynccontextmanager
async def serve(app, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve an ASGI app on a free loopback port in this event loop; yields its base URL."""
    config = uvicorn.Config(app, host=host, port=0, lifespan="on", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # the test runner owns signals
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task  # start-up failed: raise its error
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def api_client(settings: Settings, **app_kwargs) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over real HTTP, with a client pointed at it."""
    async with serve(create_app(settings, **app_kwargs)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            yield client
