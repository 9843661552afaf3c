"""The worker: claims due jobs, runs them under a lease, retries failures with exponential backoff.

- Claiming is one UPDATE over `SELECT ... FOR UPDATE SKIP LOCKED`: any number of workers, no job twice at once.
- A claimed job holds a lease (`locked_until`), extended by a heartbeat while its handler runs. A worker that
  dies (kill -9, lost machine) stops extending it; once it lapses another worker takes the job again. So
  handlers must be idempotent.
- Every finish is fenced by the attempt number: a worker that lost its lease cannot mark the job done.
- A failure re-queues the job after min(cap, base * 2^(failures-1)) seconds (with a little jitter) until
  `max_attempts` failures in a row, then it stays `failed` with its last error for a person to look at. A periodic
  job's good run clears its failures: hiccups spread over days neither add up nor stretch its backoff.
- SIGTERM/SIGINT: stop claiming, let running jobs finish for `grace` seconds, hand back the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import socket
import time
import uuid

import asyncpg

from service.db.pool import DATABASE_ERRORS
from service.jobs import queries
from service.jobs.queue import JobContext, Registry, Reschedule

log = logging.getLogger("service.jobs.worker")

PURGE_EVERY = 3600.0
KEEP_FINISHED_DAYS = 7


def backoff(attempt: int, base: float = 5.0, cap: float = 3600.0, jitter: float = 0.1) -> float:
    """Seconds before retry number `attempt` (1 = after the first failure)."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay * (1 + random.uniform(-jitter, jitter))


class Worker:
    def __init__(
        self,
        context: JobContext,
        jobs: Registry,
        *,
        concurrency: int = 4,
        lease: float = 60.0,
        poll_interval: float = 1.0,
        backoff_base: float = 5.0,
        backoff_cap: float = 3600.0,
        grace: float = 30.0,
        name: str | None = None,
    ) -> None:
        self.context = context
        self.jobs = jobs
        self.concurrency = concurrency
        self.lease = lease
        self.poll_interval = poll_interval
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.grace = grace
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._running: dict[asyncio.Task, tuple[int, int]] = {}

    @property
    def pool(self) -> asyncpg.Pool:
        return self.context.pool

    async def claim(self, limit: int) -> list[asyncpg.Record]:
        return await self.pool.fetch(queries.CLAIM, self.name, float(self.lease), limit)

    async def seed_periodic(self) -> None:
        if self.jobs.periodic:
            await self.pool.execute(queries.SEED_PERIODIC, list(self.jobs.periodic))

    async def run_once(self) -> int:
        """Claim what is due (up to `concurrency`), run it, and return how many jobs ran. For tests and cron."""
        rows = await self.claim(self.concurrency)
        await asyncio.gather(*(self._execute(row) for row in rows))
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then shut down gracefully. Cancelling this task instead is a crash:
        running jobs keep their lease until it lapses, as when the process is killed."""
        log.info("worker started", extra={"worker": self.name, "concurrency": self.concurrency})
        stopping = asyncio.ensure_future(stop.wait())
        last_purge = float("-inf")  # also when periodic jobs are (re)seeded: one that failed for good comes back
        try:
            while not stop.is_set():
                free = self.concurrency - len(self._running)
                rows: list[asyncpg.Record] = []
                if free > 0:
                    try:
                        rows = await self.claim(free)
                    except DATABASE_ERRORS as exc:
                        log.warning("claiming jobs failed", extra={"error": repr(exc)})
                for row in rows:
                    task = asyncio.create_task(self._execute(row))
                    self._running[task] = (row["id"], row["attempts"])
                    task.add_done_callback(self._running.pop)
                if time.monotonic() - last_purge > PURGE_EVERY:
                    last_purge = time.monotonic()
                    with contextlib.suppress(*DATABASE_ERRORS):
                        await self.pool.execute(queries.PURGE_FINISHED, KEEP_FINISHED_DAYS)
                        await self.seed_periodic()
                if rows and len(rows) == free:
                    # Slots full and maybe more due: wake when one frees up.
                    await asyncio.wait({stopping, *self._running}, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.wait(
                        {stopping, *self._running}, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
                    )
            await self._shutdown()
        finally:
            stopping.cancel()
            for task in list(self._running):
                task.cancel()
        log.info("worker stopped", extra={"worker": self.name})

    async def _shutdown(self) -> None:
        if not self._running:
            return
        running = dict(self._running)
        _, late = await asyncio.wait(running, timeout=self.grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        for task in late:
            job_id, attempt = running[task]
            await self.pool.execute(queries.RELEASE, job_id, attempt)
            log.info("job handed back at shutdown", extra={"jobId": job_id})

    async def _heartbeat(self, job_id: int, attempt: int) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            with contextlib.suppress(*DATABASE_ERRORS):
                await self.pool.execute(queries.EXTEND_LEASE, job_id, attempt, float(self.lease))

    async def _execute(self, row: asyncpg.Record) -> None:
        job_id, kind, attempt = row["id"], row["kind"], row["attempts"]
        handler = self.jobs.handlers.get(kind)
        if handler is None:
            await self.pool.execute(queries.FAIL, job_id, attempt, f"no handler for job kind {kind!r}")
            log.error("unknown job kind", extra={"jobId": job_id, "kind": kind})
            return
        heartbeat = asyncio.create_task(self._heartbeat(job_id, attempt))
        context = dataclasses.replace(self.context, job_id=job_id, attempt=attempt)
        started = time.perf_counter()
        try:
            await handler(context, row["payload"])
        except Reschedule as again:
            await self.pool.execute(queries.RESCHEDULE, job_id, attempt, again.delay)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            failures = row["failures"] + 1  # in a row: a periodic job's success clears them
            if failures >= row["max_attempts"]:
                await self.pool.execute(queries.FAIL, job_id, attempt, error)
                log.error("job failed for good", extra={"jobId": job_id, "kind": kind, "error": error})
            else:
                delay = backoff(failures, self.backoff_base, self.backoff_cap)
                await self.pool.execute(queries.RETRY, job_id, attempt, delay, error)
                log.warning(
                    "job failed, will retry",
                    extra={
                        "jobId": job_id,
                        "kind": kind,
                        "attempt": attempt,
                        "retryIn": round(delay, 1),
                        "error": error,
                    },
                )
        else:
            if kind in self.jobs.periodic:
                await self.pool.execute(queries.NEXT_RUN, job_id, attempt, self.jobs.periodic[kind])
            else:
                await self.pool.execute(queries.COMPLETE, job_id, attempt)
            log.info(
                "job done",
                extra={"jobId": job_id, "kind": kind, "ms": round((time.perf_counter() - started) * 1000, 1)},
            )
        finally:
            heartbeat.cancel()
