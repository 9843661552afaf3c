"""The job worker: SKIP LOCKED claiming across workers, leases that survive a killed worker, backoff."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from service.db.pool import create_pool
from service.jobs import JobContext, Reschedule, enqueue
from service.jobs.queue import Registry
from service.jobs.worker import Worker, backoff
from tests.support import http_client

jobs = Registry()


@jobs.job("test.record")
async def record(ctx: JobContext, payload: dict) -> None:
    await asyncio.sleep(0.005)
    await ctx.pool.execute(
        "INSERT INTO job_runs (job_id, worker, attempt) VALUES ($1, $2, $3)", ctx.job_id, payload["w"], ctx.attempt
    )


@jobs.job("test.hang_first")
async def hang_first(ctx: JobContext, payload: dict) -> None:
    await ctx.pool.execute(
        "INSERT INTO job_runs (job_id, worker, attempt) VALUES ($1, '', $2)", ctx.job_id, ctx.attempt
    )
    if ctx.attempt == 1:
        await asyncio.sleep(60)  # "killed" here


@jobs.job("test.fail")
async def fail(ctx: JobContext, payload: dict) -> None:
    raise RuntimeError("boom")


@jobs.job("test.later")
async def later(ctx: JobContext, payload: dict) -> None:
    raise Reschedule(30)


@pytest.fixture
async def context(settings):
    pool = await create_pool(settings)
    await pool.execute("CREATE TABLE job_runs (job_id bigint, worker text, attempt int, at timestamptz DEFAULT now())")
    async with http_client() as http:
        yield JobContext(pool=pool, settings=settings, http=http)
    await pool.close()


def worker(context, **options) -> Worker:
    return Worker(context, jobs, **{"poll_interval": 0.02, "lease": 5, **options})


async def add(context, kind: str, payload: dict | None = None, **options) -> int:
    async with context.pool.acquire() as conn:
        return await enqueue(conn, kind, payload, **options)


async def job_row(context, job_id: int):
    return await context.pool.fetchrow("SELECT *, run_at - now() AS wait FROM jobs WHERE id = $1", job_id)


async def test_several_workers_run_each_job_exactly_once(context):
    async with context.pool.acquire() as conn:
        for i in range(60):
            await enqueue(conn, "test.record", {"w": str(i)})
    stop = asyncio.Event()
    workers = [worker(context, concurrency=3, name=f"w{i}") for i in range(3)]
    runs = [asyncio.create_task(w.run(stop)) for w in workers]
    async with asyncio.timeout(20):
        while await context.pool.fetchval("SELECT count(*) FROM jobs WHERE status <> 'done'"):
            await asyncio.sleep(0.02)
    stop.set()
    await asyncio.gather(*runs)
    assert await context.pool.fetchval("SELECT count(*) FROM job_runs") == 60
    assert await context.pool.fetchval("SELECT count(DISTINCT job_id) FROM job_runs") == 60
    assert await context.pool.fetchval("SELECT max(attempts) FROM jobs") == 1


async def test_a_killed_workers_job_is_taken_again_after_its_lease(context):
    job_id = await add(context, "test.hang_first")
    crashed = asyncio.create_task(worker(context, lease=0.6, name="doomed").run(asyncio.Event()))
    async with asyncio.timeout(5):
        while not await context.pool.fetchval("SELECT count(*) FROM job_runs"):
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)  # the heartbeat keeps the lease alive past its first term
    assert (await job_row(context, job_id))["locked_until"] > datetime.now(UTC)
    crashed.cancel()  # a crash: nothing is handed back, the lease just stops being extended
    await asyncio.gather(crashed, return_exceptions=True)
    survivor = worker(context, name="survivor")
    assert await survivor.run_once() == 0  # lease still held by the dead worker
    await asyncio.sleep(0.7)
    assert await survivor.run_once() == 1
    row = await job_row(context, job_id)
    assert (row["status"], row["attempts"], row["locked_by"]) == ("done", 2, None)
    assert [r["attempt"] for r in await context.pool.fetch("SELECT attempt FROM job_runs ORDER BY at")] == [1, 2]


async def test_failures_back_off_exponentially_then_stop(context):
    job_id = await add(context, "test.fail", max_attempts=3)
    w = worker(context, backoff_base=10, backoff_cap=1000)
    waits = []
    for attempt in (1, 2):
        assert await w.run_once() == 1
        row = await job_row(context, job_id)
        assert (row["status"], row["attempts"]) == ("queued", attempt)
        assert row["last_error"] == "RuntimeError: boom"
        waits.append(row["wait"].total_seconds())
        assert await w.run_once() == 0  # not due yet
        await context.pool.execute("UPDATE jobs SET run_at = now() WHERE id = $1", job_id)
    assert 9 <= waits[0] <= 11 and 18 <= waits[1] <= 22
    assert await w.run_once() == 1
    assert (await job_row(context, job_id))["status"] == "failed"


def test_backoff_is_capped():
    assert backoff(1, 5, 3600, jitter=0) == 5
    assert backoff(4, 5, 3600, jitter=0) == 40
    assert backoff(30, 5, 3600, jitter=0) == 3600


async def test_reschedule_is_not_a_failure(context):
    job_id = await add(context, "test.later")
    assert await worker(context).run_once() == 1
    row = await job_row(context, job_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("queued", 0, None)
    assert 28 <= row["wait"].total_seconds() <= 30


async def test_dedupe_key_keeps_one_pending_job(context):
    first = await add(context, "test.record", {"w": "a"}, dedupe_key="k")
    assert await add(context, "test.record", {"w": "b"}, dedupe_key="k") is None
    assert await worker(context).run_once() == 1
    assert await add(context, "test.record", {"w": "c"}, dedupe_key="k") not in (None, first)


@jobs.job("test.asked_again")
async def asked_again(ctx: JobContext, payload: dict) -> None:
    """Records its run; on its first run, work under its own key is committed meanwhile (as a redemption or an
    upload released while the run reads its state)."""
    await ctx.pool.execute("INSERT INTO job_runs (job_id, worker, attempt) VALUES ($1, 'again', $2)", ctx.job_id, 0)
    if await ctx.pool.fetchval("SELECT count(*) FROM job_runs WHERE worker = 'again'") == 1:
        async with ctx.pool.acquire() as conn:
            assert await enqueue(conn, "test.asked_again", dedupe_key="again") is None  # the key is its


async def test_work_asked_for_while_its_job_runs_runs_it_again(context):
    job_id = await add(context, "test.asked_again", dedupe_key="again")
    w = worker(context)
    assert await w.run_once() == 1
    row = await job_row(context, job_id)
    assert (row["status"], row["again_at"], row["finished_at"]) == ("queued", None, None)  # not done: once more
    assert row["wait"].total_seconds() <= 0
    assert await w.run_once() == 1
    assert (await job_row(context, job_id))["status"] == "done"
    assert await context.pool.fetchval("SELECT count(*) FROM job_runs WHERE worker = 'again'") == 2
    # A key only queued is kept as it was: no second job, its time unchanged.
    later = datetime.now(UTC).replace(microsecond=0).replace(year=2100)
    queued = await add(context, "test.record", {"w": "x"}, dedupe_key="q", run_at=later)
    assert await add(context, "test.record", {"w": "y"}, dedupe_key="q") is None
    assert (await job_row(context, queued))["run_at"] == later


async def test_unknown_kind_fails_without_retry(context):
    job_id = await add(context, "test.nobody")
    assert await worker(context).run_once() == 1
    row = await job_row(context, job_id)
    assert row["status"] == "failed" and "no handler" in row["last_error"]


class FlakyDatabaseWorker(Worker):
    """Claims fail with these errors first, as while PostgreSQL restarts under the worker."""

    def __init__(self, *args, errors: list[Exception], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.errors = errors

    async def claim(self, limit: int):
        if self.errors:
            raise self.errors.pop(0)
        return await super().claim(limit)


async def test_the_worker_polls_on_through_database_errors(context):
    job_id = await add(context, "test.record", {"w": "after"})
    errors = [
        ConnectionRefusedError(111, "Connection refused"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        # Seen killing the worker in the fault run: asyncpg on a connection the server just terminated (#1069).
        asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    ]
    stop = asyncio.Event()
    run = asyncio.create_task(FlakyDatabaseWorker(context, jobs, errors=errors, poll_interval=0.02, lease=5).run(stop))
    async with asyncio.timeout(5):
        while (await job_row(context, job_id))["status"] != "done":
            assert not run.done(), run.exception()
            await asyncio.sleep(0.02)
    assert errors == []
    stop.set()
    await run


async def test_graceful_stop_hands_running_jobs_back(context):
    job_id = await add(context, "test.hang_first")
    stop = asyncio.Event()
    run = asyncio.create_task(worker(context, grace=0.1).run(stop))
    async with asyncio.timeout(5):
        while not await context.pool.fetchval("SELECT count(*) FROM job_runs"):
            await asyncio.sleep(0.01)
    stop.set()
    async with asyncio.timeout(5):
        await run
    row = await job_row(context, job_id)
    assert (row["status"], row["attempts"], row["locked_by"]) == ("queued", 0, None)


periodic_jobs = Registry()  # apart: a periodic job is never 'done', which other tests wait for


@periodic_jobs.job("test.tick", every=30)
async def tick(ctx: JobContext, payload: dict) -> None:
    await ctx.pool.execute(
        "INSERT INTO job_runs (job_id, worker, attempt) VALUES ($1, 'tick', $2)", ctx.job_id, ctx.attempt
    )


async def test_periodic_jobs_are_seeded_once_and_run_again_after_their_interval(context):
    workers = [Worker(context, periodic_jobs, poll_interval=0.02, lease=5) for _ in range(2)]
    await asyncio.gather(*(w.seed_periodic() for w in workers))
    rows = await context.pool.fetch("SELECT kind, status FROM jobs WHERE kind = 'test.tick'")
    assert [tuple(r) for r in rows] == [("test.tick", "queued")]
    assert await workers[0].run_once() == 1
    row = await context.pool.fetchrow(
        "SELECT status, attempts, run_at - now() AS wait FROM jobs WHERE kind = 'test.tick'"
    )
    # Done for now, queued again for 30 s later, and the run did not count as an attempt.
    assert row["status"] == "queued" and row["attempts"] == 0
    assert 25 < row["wait"].total_seconds() <= 30
    await workers[1].seed_periodic()  # a queued one exists: nothing added
    assert await context.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'test.tick'") == 1
    assert await context.pool.fetchval("SELECT count(*) FROM job_runs WHERE worker = 'tick'") == 1


flaky_jobs = Registry()  # apart, as periodic_jobs


@flaky_jobs.job("test.flaky_tick", every=30)
async def flaky_tick(ctx: JobContext, payload: dict) -> None:
    """Fails every other run."""
    runs = await ctx.pool.fetchval(
        "WITH run AS (INSERT INTO job_runs (job_id, worker, attempt) VALUES ($1, 'flaky', $2)) "
        "SELECT count(*) + 1 FROM job_runs WHERE worker = 'flaky'",
        ctx.job_id,
        ctx.attempt,
    )
    if runs % 2 == 0:
        raise RuntimeError("transient")


async def test_a_periodic_jobs_good_run_clears_its_failures(context):
    w = Worker(context, flaky_jobs, poll_interval=0.02, lease=5, backoff_base=5, backoff_cap=3600)
    await w.seed_periodic()
    for _ in range(12):  # a good run and a failure, twelve times: 12 failures, never two in a row
        for _ in range(2):
            await context.pool.execute("UPDATE jobs SET run_at = now() WHERE kind = 'test.flaky_tick'")
            assert await w.run_once() == 1
    row = await context.pool.fetchrow(
        "SELECT status, failures, last_error, run_at - now() AS wait FROM jobs WHERE kind = 'test.flaky_tick'"
    )
    # Queued again after its first failure's backoff (5 s), not failed for good after twelve (nor waiting an hour).
    assert (row["status"], row["failures"], row["last_error"]) == ("queued", 1, "RuntimeError: transient")
    assert row["wait"].total_seconds() < 10
    await context.pool.execute("UPDATE jobs SET run_at = now() WHERE kind = 'test.flaky_tick'")
    assert await w.run_once() == 1  # a good run: its failures cleared
    row = await context.pool.fetchrow("SELECT failures, last_error FROM jobs WHERE kind = 'test.flaky_tick'")
    assert (row["failures"], row["last_error"]) == (0, None)
    assert await context.pool.fetchval("SELECT count(*) FROM job_runs WHERE worker = 'flaky'") == 25
