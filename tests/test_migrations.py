"""Migrations: ordered, checksummed, serialised across concurrent runners, enforced at start-up."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from service.app import create_app
from service.db import migrate as migrations
from service.db.pool import connect
from tests.support import create_database, drop_database, make_settings, serve, unique_name, with_database


@pytest.fixture
async def empty_database(admin_url):
    name = unique_name("m")
    await create_database(admin_url, name)
    yield with_database(admin_url, name)
    await drop_database(admin_url, name)


async def test_concurrent_runners_apply_each_migration_once(empty_database):
    conns = [await connect(empty_database) for _ in range(5)]
    try:
        results = await asyncio.gather(*(migrations.migrate(conn) for conn in conns))
        applied = [m.version for result in results for m in result]
        assert sorted(applied) == [m.version for m in migrations.discover()]
        rows = await conns[0].fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
        assert [(r["version"], r["checksum"]) for r in rows] == [(m.version, m.checksum) for m in migrations.discover()]
        assert await migrations.pending(conns[0]) == []
    finally:
        for conn in conns:
            await conn.close()


async def test_a_changed_migration_is_refused(empty_database):
    conn = await connect(empty_database)
    try:
        await migrations.migrate(conn)
        first = migrations.discover()[0]
        edited = [dataclasses.replace(first, sql=first.sql + "\n-- edited"), *migrations.discover()[1:]]
        with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
            await migrations.pending(conn, edited)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_behind(empty_database):
    conn = await connect(empty_database)
    try:
        broken = [
            *migrations.discover(),
            migrations.Migration(9998, "good_half", "CREATE TABLE half_done (id int)"),
            migrations.Migration(9999, "broken", "CREATE TABLE never (id int); SELECT no_such_function()"),
        ]
        with pytest.raises(Exception, match="no_such_function"):
            await migrations.migrate(conn, broken)
        assert await conn.fetchval("SELECT to_regclass('never')") is None
        assert await conn.fetchval("SELECT to_regclass('half_done')") is not None
        assert [m.version for m in await migrations.pending(conn, broken)] == [9999]
    finally:
        await conn.close()


async def test_app_refuses_to_start_with_pending_migrations(empty_database):
    app = create_app(make_settings(empty_database))
    with pytest.raises(ExceptionGroup) as raised:
        async with app.lifespan():
            pass
    assert raised.group_contains(RuntimeError, match="migrations pending")


async def test_app_can_migrate_at_start_when_configured(empty_database):
    import httpx

    async with serve(create_app(make_settings(empty_database, migrate_on_start=True))) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            assert (await client.get("/readyz")).status_code == 200
