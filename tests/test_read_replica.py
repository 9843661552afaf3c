"""The read replica (service/db/replica.py) against a real one: a disposable primary and a hot standby made from it
by `pg_basebackup -R` with the same binaries (benchmarks/replica.py), streaming as in production.

Pausing the standby's replay makes staleness deterministic: a post on the primary only then shows where the
replica is read. Stopping it like a crash (`pg_ctl stop -m immediate`) under concurrent reads is the fault.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta

import asyncpg
import httpx
import pytest

from benchmarks.replica import Standby, caught_up
from benchmarks.stack import Postgres
from service.db.migrate import migrate
from service.db.pool import connect, create_pool
from service.db.replica import APPLICATION_NAME, ReadRouter
from tests.support import http_client, make_settings, reused_app, serve
from tests.wechat_support import Sandbox
from tests.world import Member, sign_in


class Cluster:
    def __init__(self) -> None:
        self.primary = Postgres()
        self.standby: Standby | None = None

    def start(self) -> Cluster:
        self.primary.start()

        async def migrated() -> None:
            conn = await connect(self.primary.dsn)
            try:
                await migrate(conn)
            finally:
                await conn.close()

        asyncio.run(migrated())
        self.standby = Standby(self.primary)  # kept before starting: closed even when its start fails
        self.standby.start()
        return self

    def close(self) -> None:
        if self.standby is not None:
            self.standby.close()
        self.primary.close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A migrated primary and its streaming standby, shared by the module; both stopped and deleted after it."""
    made = Cluster()
    try:
        yield made.start()
    finally:
        made.close()


class Run:
    def __init__(self, client: httpx.AsyncClient, reads: ReadRouter, sandbox: Sandbox, cluster: Cluster) -> None:
        self.client, self.reads, self.sandbox, self.cluster = client, reads, sandbox, cluster

    @property
    def standby(self) -> Standby:
        assert self.cluster.standby is not None
        return self.cluster.standby

    async def member(self, name: str) -> Member:
        return await sign_in(self.client, self.sandbox, name, nickname=True)

    async def community(self, owner: Member, *members: Member) -> str:
        response = await self.client.post("/v1/communities", json={"name": "Runners"}, headers=owner.headers)
        assert response.status_code == 201, response.text
        cid = response.json()["id"]
        for member in members:
            joined = await self.client.post(f"/v1/communities/{cid}/join", headers=member.headers)
            assert joined.status_code == 201, joined.text
        return cid

    async def post(self, who: Member, cid: str, text: str) -> str:
        response = await self.client.post(f"/v1/communities/{cid}/posts", json={"text": text}, headers=who.headers)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def feed(self, who: Member, cid: str) -> list[str]:
        """The texts of the members' posts on the first page as `who` sees it."""
        response = await self.client.get(f"/v1/communities/{cid}/feed", headers=who.headers)
        assert response.status_code == 200, response.text
        return [item["text"] for item in response.json()["items"] if item["robot"] is None]

    async def search(self, who: Member, cid: str, q: str) -> list[str]:
        response = await self.client.get(f"/v1/communities/{cid}/search", params={"q": q}, headers=who.headers)
        assert response.status_code == 200, response.text
        return [hit["postId"] for hit in response.json()["items"]]

    async def caught_up(self) -> None:
        await caught_up(self.cluster.primary.dsn, self.standby.dsn)

    async def until(self, condition, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.02)

    async def until_async(self, condition, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not await condition():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.05)

    async def on_standby(self, sql: str, *args: object) -> object:
        conn = await asyncpg.connect(self.standby.dsn)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()


async def running(cluster: Cluster, sandbox: Sandbox, **overrides: object) -> AsyncIterator[Run]:
    assert cluster.standby is not None
    settings = make_settings(
        cluster.primary.dsn,
        wechat_api_base=sandbox.url,
        database_replica_url=cluster.standby.dsn,
        newcomer_hours=0,
        **overrides,
    )
    async with reused_app(settings) as app, serve(app) as base_url:
        async with http_client(base_url=base_url, timeout=30) as client:
            run = Run(client, app.state.reads, sandbox, cluster)
            await run.until(run.reads.usable)  # the watcher's first round found the replica caught up
            yield run


@pytest.fixture
async def patient(cluster: Cluster, sandbox: Sandbox) -> AsyncIterator[Run]:
    """REPLICA_MAX_LAG of a minute: a paused standby stays in use while a test looks at what it shows."""
    async for run in running(cluster, sandbox, replica_max_lag=60.0):
        yield run


@pytest.fixture
async def strict(cluster: Cluster, sandbox: Sandbox) -> AsyncIterator[Run]:
    async for run in running(cluster, sandbox, replica_max_lag=1.0):
        yield run


async def test_reads_come_from_the_replica_and_a_writer_sees_their_write_at_once(patient: Run):
    alice, bob = await patient.member("alice"), await patient.member("bob")
    cid = await patient.community(alice, bob)
    await patient.post(alice, cid, "first light")
    await patient.caught_up()
    assert await patient.feed(bob, cid) == ["first light"]
    assert patient.reads.served["replica"] >= 1
    # The replica's own view: our pool's connections read there.
    ours = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
    assert await patient.on_standby(ours, APPLICATION_NAME) >= 1

    await patient.on_standby("SELECT pg_wal_replay_pause()")
    try:
        second = await patient.post(alice, cid, "second wind")  # the write: on the primary, replica paused
        served = patient.reads.served["replica"]
        assert await patient.feed(bob, cid) == ["first light"]  # the replica has not replayed it: read there
        assert await patient.search(bob, cid, "second") == []
        assert patient.reads.served["replica"] == served + 2
        # The writer reads their own write at once: their standing and news are checked on the primary.
        assert await patient.feed(alice, cid) == ["second wind", "first light"]
        today = date.today()
        window = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}
        metrics = await patient.client.get(f"/v1/communities/{cid}/metrics", params=window, headers=alice.headers)
        assert metrics.status_code == 200, metrics.text
        board = await patient.client.get(f"/v1/communities/{cid}/leaderboard", params=window, headers=bob.headers)
        assert board.status_code == 200, board.text
        # Alice's page too was read there, then found to miss her news and built for her on the primary.
        assert patient.reads.served["replica"] == served + 5
    finally:
        await patient.on_standby("SELECT pg_wal_replay_resume()")
    await patient.caught_up()
    assert await patient.feed(bob, cid) == ["second wind", "first light"]
    assert await patient.search(bob, cid, "second") == [second]


async def test_a_replica_further_behind_than_the_bound_is_left_for_the_primary_until_it_catches_up(
    strict: Run, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="service.db.replica")
    alice, bob = await strict.member("alice"), await strict.member("bob")
    cid = await strict.community(alice, bob)
    await strict.on_standby("SELECT pg_wal_replay_pause()")
    try:
        await strict.post(alice, cid, "while paused")
        await strict.until(lambda: not strict.reads.usable())  # more than 1 s behind the primary now
        served = strict.reads.served.copy()
        assert await strict.feed(bob, cid) == ["while paused"]  # from the primary: no client waits on the lag
        assert await strict.search(bob, cid, "paused") != []
        assert strict.reads.served["primary"] == served["primary"] + 1  # the search (the page is read there as is)
        assert strict.reads.served["replica"] == served["replica"]
    finally:
        await strict.on_standby("SELECT pg_wal_replay_resume()")
    served, deadline = strict.reads.served["replica"], time.monotonic() + 10
    while strict.reads.served["replica"] == served:  # caught up: the replica serves again
        assert time.monotonic() < deadline, "the replica was not used again"
        assert await strict.feed(bob, cid) == ["while paused"]
        await asyncio.sleep(0.05)
    changes = [r.getMessage() for r in caplog.records if r.name == "service.db.replica"]
    assert "reads fall back to the primary" in changes
    assert changes[-1] == "reads served by the replica"
    assert all(a != b for a, b in zip(changes, changes[1:], strict=False)), changes  # once per change, not per read


async def test_a_replica_cut_off_from_the_primary_is_found_out_though_it_calls_itself_caught_up(strict: Run):
    alice, bob = await strict.member("alice"), await strict.member("bob")
    cid = await strict.community(alice, bob)
    await strict.caught_up()
    source = await strict.on_standby("SHOW primary_conninfo")
    await strict.on_standby("ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=postgres'")
    await strict.on_standby("SELECT pg_reload_conf()")
    try:
        await strict.until_async(lambda: strict.on_standby("SELECT count(*) = 0 FROM pg_stat_wal_receiver"))
        await strict.post(alice, cid, "never streamed")
        # Its own word: everything it received is replayed (a lag taken from the replay timestamp would be 0).
        assert await strict.on_standby("SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()")
        await strict.until(lambda: not strict.reads.usable())  # measured against the primary: behind
        assert await strict.feed(bob, cid) == ["never streamed"]
    finally:
        quoted = str(source).replace("'", "''")
        await strict.on_standby(f"ALTER SYSTEM SET primary_conninfo = '{quoted}'")
        await strict.on_standby("SELECT pg_reload_conf()")
    await strict.caught_up()
    await strict.until(strict.reads.usable)


async def test_the_replica_stopped_under_load_costs_no_client_an_error(patient: Run):
    alice, bob = await patient.member("alice"), await patient.member("bob")
    readers = [await patient.member(f"reader{n}") for n in range(3)]
    cid = await patient.community(alice, bob, *readers)
    for n in range(5):
        await patient.post(alice, cid, f"morning run number {n}")
    await patient.caught_up()
    today = date.today()
    window = {"from": str(today), "to": str(today)}
    urls = [f"/v1/communities/{cid}/feed", f"/v1/communities/{cid}/search?q=morning"]
    statuses: list[int] = []
    stop = asyncio.Event()

    async def reader(n: int) -> None:
        who = readers[n % len(readers)]
        while not stop.is_set():
            response = await patient.client.get(urls[n % 2], headers=who.headers)
            statuses.append(response.status_code)
            assert response.status_code == 200, response.text
            assert response.json()["items"], response.text
        response = await patient.client.get(f"/v1/communities/{cid}/metrics", params=window, headers=alice.headers)
        statuses.append(response.status_code)

    load = [asyncio.create_task(reader(n)) for n in range(32)]
    try:
        await patient.until(lambda: patient.reads.served["replica"] >= 50)
        await asyncio.to_thread(patient.standby.stop, "immediate")  # like a crash, in-flight reads included
        stopped_at = patient.reads.served.copy()
        await patient.until(lambda: patient.reads.served["primary"] >= stopped_at["primary"] + 50)
    finally:
        stop.set()
        await asyncio.gather(*load)
    assert set(statuses) == {200}, statuses
    print(len(statuses), dict(stopped_at), dict(patient.reads.served))
    assert patient.reads.served["fallbacks"] >= 1  # reads the stop caught on the replica, run again on the primary
    assert not patient.reads.usable()
    assert patient.reads.served["replica"] - stopped_at["replica"] <= 32  # at most those in flight at the stop

    await asyncio.to_thread(patient.standby.start)  # back: the watcher finds it and reads return to it
    await patient.until(patient.reads.usable)
    served = patient.reads.served["replica"]
    assert len(await patient.feed(bob, cid)) == 5
    assert patient.reads.served["replica"] == served + 1


async def test_a_read_cancelled_by_a_recovery_conflict_runs_again_on_the_primary(cluster: Cluster):
    assert cluster.standby is not None
    settings = make_settings(cluster.primary.dsn, database_replica_url=cluster.standby.dsn, replica_max_lag=60.0)
    primary = await connect(cluster.primary.dsn)
    standby = await asyncpg.connect(cluster.standby.dsn)
    pool = await create_pool(settings)
    router = ReadRouter(pool, settings)
    try:
        # Replay cancels a conflicting query at once instead of waiting for it 30 s.
        await standby.execute("ALTER SYSTEM SET max_standby_streaming_delay = 0")
        await standby.execute("SELECT pg_reload_conf()")
        await primary.execute("CREATE TABLE conflicted (n int); INSERT INTO conflicted VALUES (1)")
        await caught_up(cluster.primary.dsn, cluster.standby.dsn)
        await router.start()
        deadline = time.monotonic() + 10
        while not router.usable():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)

        async def count(conn: asyncpg.Connection, as_of: object) -> int:
            if as_of is not None:  # on the replica: hold the table while the primary locks it exclusively
                async with conn.transaction():
                    await conn.fetchval("SELECT count(*) FROM conflicted")
                    async with primary.transaction():
                        await primary.execute("LOCK TABLE conflicted IN ACCESS EXCLUSIVE MODE")
                    await conn.execute("SELECT pg_sleep(10)")  # cancelled when the lock is replayed
            return await conn.fetchval("SELECT count(*) FROM conflicted")

        started = time.monotonic()
        assert await router.read(count) == 1
        assert time.monotonic() - started < 5
        assert dict(router.served) == {"fallbacks": 1, "primary": 1}
    finally:
        await router.close()
        await pool.close()
        await standby.execute("ALTER SYSTEM RESET max_standby_streaming_delay")
        await standby.execute("SELECT pg_reload_conf()")
        await standby.close()
        await primary.execute("DROP TABLE IF EXISTS conflicted")
        await primary.close()
