"""A real streaming replica beside a disposable primary, for the replica tests and `make bench`'s feed comparison.

`Standby(primary)` is a hot standby made by `pg_basebackup -R` from a `Postgres` of benchmarks/stack.py, with
the same binaries (pgserver's), on its own port: the primary's WAL streams to it as in production. Stopping it
(`stop("immediate")`, pg_ctl's crash-like stop) and starting it again is the fault the tests inject.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg

from benchmarks.stack import Postgres


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
