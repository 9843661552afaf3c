"""A real streaming replica beside a disposable primary, for the replica tests and `make bench`'s feed comparison.

`Standby(primary)` is a hot standby made by `pg_basebackup -R` from a `Postgres` of benchmarks/stack.py, with
the same binaries (pgserver's), on its own port: the primary's WAL streams to it as in production. Stopping it
(`stop("immediate")`, pg_ctl's crash-like stop) and starting it again is the fault the tests inject.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg

from benchmarks import scenarios
from benchmarks.processes import process_tree, stop
from benchmarks.scenarios import Request
from benchmarks.stack import Postgres
from service.db.migrate import migrate
from service.db.pool import connect
from service.settings import Settings, load_settings


class Standby(Postgres):
    """A hot standby of `primary`, cloned from it on first start."""

    def __init__(self, primary: Postgres) -> None:
        super().__init__()
        self.primary = primary

    def start(self) -> Standby:
        if not self.data.exists():
            source = f"host=127.0.0.1 port={self.primary.port} user=postgres"
            # -R: standby.signal and primary_conninfo, so the copy starts as a streaming replica; -X stream: the
            # WAL written during the copy comes along; -c fast: no waiting for a scheduled checkpoint.
            self._run("pg_basebackup", "-D", str(self.data), "-d", source, "-R", "-X", "stream", "-c", "fast", "-N")
        # fsync off: a disposable copy; after a crash-like stop, starting again then skips syncing every file of
        # the data folder (a second and more on a busy machine) before recovery.
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c max_connections=100 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        return self


async def caught_up(primary_dsn: str, standby_dsn: str, timeout: float = 30.0) -> float:
    """Wait until the standby has replayed everything the primary had written when called; the seconds taken."""
    started = time.monotonic()
    primary = await asyncpg.connect(primary_dsn)
    try:
        # The insert position, flushed by this statement's commit (it takes a transaction id): the standby can reach
        # it, where the write position may stand in the middle of a record it replays only once the rest comes.
        target = await primary.fetchval("SELECT pg_current_wal_insert_lsn() FROM pg_current_xact_id()")
    finally:
        await primary.close()
    while time.monotonic() - started < timeout:
        try:
            standby = await asyncpg.connect(standby_dsn)
            try:
                replayed = await standby.fetchval("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", target)
            finally:
                await standby.close()
            if replayed:
                return time.monotonic() - started
        except (OSError, asyncpg.PostgresError):
            pass  # still starting
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the standby did not replay up to {target} in {timeout:.0f} s")


# -- make bench: the feed read from the primary, then from the replica, in the same run ----------------------------


def cpu_seconds(postgres: Postgres) -> float:
    """CPU time of a server so far: its postmaster and live backends, plus the backends that already exited."""
    pid = int((postgres.data / "postmaster.pid").read_text().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if member == pid:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime: reaped backends
    return total / tick


async def _commits(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    finally:
        await conn.close()


async def _seed(dsn: str, settings: Settings) -> Request:
    conn = await connect(dsn)
    try:
        await migrate(conn)
        saved = dict(scenarios._feed_world)  # the main run's feed community: this database has its own
        scenarios._feed_world.clear()
        try:
            request = await scenarios._feed_latest(conn, settings)
        finally:
            scenarios._feed_world.clear()
            scenarios._feed_world.update(saved)
        await conn.execute("ANALYZE")
        await conn.execute("CHECKPOINT")
        return request
    finally:
        await conn.close()


def compare(
    start_server: Callable[[str, str, dict[str, str]], tuple[subprocess.Popen, str]],
    run_wrk: Callable[..., dict],
    secret: str,
    duration: int,
    connections: int,
) -> list[dict]:
    """The feed scenario's page (`feed_latest`) with and without the page cache, each served once with reads on the
    primary alone and once with DATABASE_REPLICA_URL set, on a disposable primary and its standby (one machine:
    they share its cores). Per run: req/s, p99 and the CPU each server spent per request."""
    primary = Postgres()
    standby: Standby | None = None
    rows = []
    try:
        primary.start()
        print("  replica: seeding the feed community on a primary of its own ...", file=sys.stderr, flush=True)
        request = asyncio.run(_seed(primary.dsn, load_settings({}, database_url=primary.dsn, secret_key=secret)))
        standby = Standby(primary)  # kept before starting: closed even when its start fails
        standby.start()
        asyncio.run(caught_up(primary.dsn, standby.dsn))
        for cache in ("1", "0"):
            for reads in ("primary", "replica"):
                env = {"FEED_CACHE_SECONDS": cache}
                if reads == "replica":
                    env["DATABASE_REPLICA_URL"] = standby.dsn
                proc, base_url = start_server("granian", primary.dsn, env)
                try:
                    run_wrk(base_url, request, 2, connections)
                    before = cpu_seconds(primary), cpu_seconds(standby), asyncio.run(_commits(primary.dsn))
                    result = run_wrk(base_url, request, duration, connections)
                    after = cpu_seconds(primary), cpu_seconds(standby), asyncio.run(_commits(primary.dsn))
                finally:
                    stop(proc)
                served = max(result["requests"], 1)
                result.update(
                    cache=cache != "0",
                    reads=reads,
                    primary_cpu_ms=(after[0] - before[0]) * 1000 / served,
                    replica_cpu_ms=(after[1] - before[1]) * 1000 / served,
                    primary_commits=(after[2] - before[2]) / served,
                )
                rows.append(result)
                print(
                    f"  replica: feed {'cached' if cache != '0' else 'uncached':8} from the {reads:7} "
                    f"{result['rps']:9.0f} req/s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if standby is not None:
            standby.close()
        primary.close()
    return rows


def report(rows: list[dict], duration: int, connections: int) -> None:
    print(
        f"\nfeed_latest read from the primary vs from a streaming replica (same run, one machine: both servers share "
        f"its {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}; wrk -c{connections} -d{duration}s)\n"
    )
    print(
        "| page cache | reads from | req/s | p99 ms | vs primary | primary CPU ms/req | replica CPU ms/req "
        "| primary statements/req | errors |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        base = next(r for r in rows if r["cache"] == row["cache"] and r["reads"] == "primary")
        print(
            f"| {'on (1 s)' if row['cache'] else 'off'} | {row['reads']} | {row['rps']:.0f} | "
            f"{row['p99_us'] / 1000:.2f} | {row['rps'] / base['rps']:.2f} | {row['primary_cpu_ms']:.3f} | "
            f"{row['replica_cpu_ms']:.3f} | {row['primary_commits']:.2f} | {row['errors'] + row['non2xx']} |"
        )
