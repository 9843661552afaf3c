"""`make faults`: break the running service under load, then check nothing acknowledged was lost.

The API (granian), the job worker and the WeChat sandbox run as processes over a disposable PostgreSQL of
their own (`stack.Postgres`), while `benchmarks.load` drives its realistic mix. One phase per fault, in turn:

| phase | fault | passes when |
|---|---|---|
| `api_kill` | kill -9 the API (granian and its worker), start it again | it is ready again; no 5xx but 503 |
| `worker_kill` | kill -9 the job worker mid-job, start it again | the dead one's jobs are taken over after the lease |
| `pg_restart` | restart PostgreSQL (fast shutdown), 2 s down | API and worker recover by themselves, same processes |
| `pg_crash` | crash PostgreSQL (immediate shutdown: recovery on start) | the same |
| `wechat_slow` | WeChat answers 2 s late (`POST /sandbox/faults` slow) | routes that do not call WeChat stay fast |
| `wechat_500` | WeChat answers HTTP 500 (`POST /sandbox/faults` http500) | 503 + Retry-After or a held post, not 500 |

Every phase also fails on any 5xx other than 503, and on requests left unanswered while the API was up.
Afterwards (`verify.py`): every acknowledged post, join, order, payment, event and heartbeat is in the
database, no order is paid twice and no member admitted twice, the ledger balances, no job failed.

Usage: python -m benchmarks.faults [--phase-seconds 20] [--faults api_kill,worker_kill,...] [--users 8]
Exit status 0 when every check passes. `tests/test_faults.py` runs a short variant inside `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from benchmarks.load import Load, Sample, failures, percentile
from benchmarks.stack import Postgres, Stack
from benchmarks.verify import Check, settle, verify
from service.db.pool import connect

ALL_FAULTS = ("api_kill", "worker_kill", "pg_restart", "pg_crash", "wechat_slow", "wechat_500")
WECHAT_FREE = ("feed", "my_feed", "heartbeat", "events")  # routes that never wait on WeChat
LEASE = 4  # the worker's job lease, seconds: a killed worker's jobs are taken over this long after


@dataclass
class Phase:
    name: str
    started: float
    ended: float = 0.0
    down: tuple[float, float] | None = None  # when the API was knowingly down (killed .. ready again)
    numbers: dict[str, object] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)


class FaultRun:
    def __init__(self, phase_seconds: float, users: int, members: int, logs: Path | None = None) -> None:
        self.phase_seconds = phase_seconds
        self.pg = Postgres().start()
        # All members are new: without this the newcomer limits (3 posts a day) turn the mix into 429s. A short
        # lease, a quick reconciliation and a fast poll make the worker's recovery visible inside a phase.
        self.stack = Stack(
            self.pg.dsn,
            "faults",
            logs,
            newcomer_hours=0,
            jobs_lease=LEASE,
            jobs_poll_interval=0.2,
            checkout_reconcile_after=3,
        )
        self.load: Load | None = None
        self.users, self.members = users, members
        self.phases: list[Phase] = []

    def samples(self, phase: Phase, kinds: tuple[str, ...] = ()) -> list[Sample]:
        return [s for s in self.load.samples if s.phase == phase.name and (not kinds or s.kind in kinds)]

    def api_samples(self, phase: Phase) -> list[Sample]:
        return [s for s in self.samples(phase) if s.kind not in ("wx_login", "pay", "notify_retry")]

    async def first_success_after(self, moment: float, timeout: float = 60.0) -> float | None:
        """Seconds from `moment` until an API request that reads the database answers 2xx."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for s in self.load.samples[-2000:]:
                if s.at > moment and s.kind in WECHAT_FREE and isinstance(s.status, int) and s.status < 300:
                    return s.at - moment
            await asyncio.sleep(0.1)
        return None

    # --- the faults -----------------------------------------------------------------------------------------

    async def api_kill(self, phase: Phase) -> None:
        killed = time.monotonic()
        self.stack.kill("api")
        await asyncio.sleep(1.0)
        restart = await asyncio.to_thread(self.stack.start_api)
        phase.down = (killed, time.monotonic())
        back = await self.first_success_after(phase.down[1])
        # Members who paid while the API was dead: WeChat Pay's notification found nobody and was sent again.
        paid_meanwhile = sum(1 for s in self.samples(phase, ("pay",)) if killed <= s.at <= phase.down[1])
        phase.numbers.update(
            start_s=round(restart, 2), outage_s=round(phase.down[1] - killed, 2), paid_while_down=paid_meanwhile
        )
        phase.checks.append(Check("API answers after restart", back is not None, f"ready {restart:.1f} s after start"))

    async def worker_kill(self, phase: Phase) -> None:
        old = self.stack.pid("worker")
        # Kill it in the middle of jobs, as a crash would: WeChat Pay answers the reconciliations' order queries
        # (of orders left unpaid, due 3 s after their creation) slowly meanwhile.
        slow = {"operation": "query", "code": "", "delaySeconds": 3.0, "times": 10}
        (await self.load.sandbox.post("/sandbox/pay/faults", json=slow)).raise_for_status()
        # The load leaves a tenth of its orders unpaid, so a short run may have none: leave one unpaid here, and
        # make every unpaid order's reconciliation due, so the worker is sure to be inside a query when killed.
        owner, member = self.load.members[0], self.load.members[-1]
        await self.load.create_community(owner, paid=True)
        await self.load.join_paid(member, self.load.paid[-1], pay=False)
        async with self.connection() as conn:
            await conn.execute(MAKE_RECONCILE_DUE)
            held: list[int] = []
            for _ in range(100):
                held = [r["id"] for r in await conn.fetch(HELD_BY, f"%:{old}:%")]
                if held:
                    break
                await asyncio.sleep(0.1)
            self.stack.kill("worker")
            killed_at = await conn.fetchval("SELECT now()")
            await asyncio.sleep(0.5)
            self.stack.start_worker()
            await asyncio.sleep(LEASE + 3)
            still = await conn.fetchval(STILL_HELD, held, f"%:{old}:%")
            by_new = await conn.fetchval(PROGRESS, killed_at)  # the dead worker does nothing: all the new one's
        phase.numbers.update(held_when_killed=len(held), run_by_new_worker=by_new)
        phase.checks.append(
            Check(
                "the dead worker's jobs taken over after the lease",
                bool(held) and still == 0 and by_new > 0 and self.stack.alive("worker"),
                f"{len(held)} held at the kill, {still} still held {LEASE + 3} s later; new worker claimed {by_new}",
            )
        )

    async def _postgres(self, phase: Phase, mode: str) -> None:
        api, worker = self.stack.pid("api"), self.stack.pid("worker")
        await asyncio.to_thread(self.pg.restart, 2.0, mode)
        up = time.monotonic()
        async with self.connection() as conn:
            up_at = await conn.fetchval("SELECT now()")
        back = await self.first_success_after(up)
        try:
            ready = (await self.load.api.get("/readyz")).status_code == 200
        except httpx.HTTPError:
            ready = False
        same = self.stack.pid("api") == api and self.stack.pid("worker") == worker
        alive = self.stack.alive("api") and self.stack.alive("worker")
        async with self.connection() as conn:
            # Whether jobs fell due meanwhile depends on the load's timing: make the periodic ones due, so the
            # worker has work it must take up, and give it up to 10 s.
            await conn.execute(MAKE_PERIODIC_DUE)
            claimed, waited = 0, 0.0
            while not claimed and waited < 10.0:
                await asyncio.sleep(0.5)
                waited += 0.5
                claimed = await conn.fetchval(PROGRESS, up_at)
        phase.numbers.update(
            api_back_s=None if back is None else round(back, 2), jobs_claimed_after=claimed, worker_back_s=waited
        )
        phase.checks.append(
            Check(
                "API and worker recover by themselves",
                back is not None and back < 15 and ready and same and alive and claimed > 0,
                f"API served again {back if back is None else round(back, 2)} s after PostgreSQL was back, "
                f"/readyz {'200' if ready else 'not 200'}; same processes: {same}, alive: {alive}; "
                f"worker ran {claimed} jobs within {waited:.1f} s",
            )
        )

    async def pg_restart(self, phase: Phase) -> None:
        await self._postgres(phase, "fast")

    async def pg_crash(self, phase: Phase) -> None:
        await self._postgres(phase, "immediate")

    async def _wechat(self, phase: Phase, body: dict) -> list[Sample]:
        """WeChat (the mini-program API and Pay) misbehaves for half a phase; the samples meanwhile."""
        (await self.load.sandbox.post("/sandbox/faults", json=body)).raise_for_status()
        started = time.monotonic()
        await asyncio.sleep(self.phase_seconds / 2)
        (await self.load.sandbox.delete("/sandbox/faults")).raise_for_status()
        ended = time.monotonic()
        return [s for s in self.samples(phase) if started <= s.at - s.ms / 1000 and s.at <= ended]

    async def wechat_slow(self, phase: Phase) -> None:
        during = await self._wechat(phase, {"mode": "slow", "delaySeconds": 2.0})
        unaffected = [s.ms for s in during if s.kind in WECHAT_FREE and isinstance(s.status, int)]
        before = [s.ms for s in self.samples(self.phases[0], WECHAT_FREE) if isinstance(s.status, int)]
        p99, base = percentile(unaffected, 0.99), percentile(before, 0.99)
        posts = [s.ms for s in during if s.kind == "post" and isinstance(s.status, int)]
        phase.numbers.update(p99_without_wechat_ms=round(p99), baseline_p99_ms=round(base))
        phase.numbers.update(post_p50_ms=round(percentile(posts, 0.5)))
        phase.checks.append(
            Check(
                "routes without WeChat stay fast",
                p99 < max(1000.0, 3 * base),
                f"p99 {p99:.0f} ms (baseline {base:.0f} ms) while posts waited {percentile(posts, 0.5):.0f} ms",
            )
        )

    async def wechat_500(self, phase: Phase) -> None:
        during = await self._wechat(phase, {"mode": "http500"})
        phase.numbers.update(
            posts_held_201=sum(s.kind == "post" and s.status == 201 for s in during),
            paid_joins_503=sum(s.kind == "join_paid" and s.status == 503 for s in during),
            logins_503=sum(s.kind == "login" and s.status == 503 for s in during),
        )

    # --- the run --------------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of its own to the run's database: made when needed, as PostgreSQL may have restarted."""
        conn = await connect(self.pg.dsn)
        try:
            yield conn
        finally:
            await conn.close()

    async def run(self, faults: tuple[str, ...]) -> list[Check]:
        self.stack.start()
        self.load = Load(self.stack.api_url, self.stack.sandbox_url, members=self.members, users=self.users)
        stop = asyncio.Event()
        try:
            await self.load.setup()
            running = asyncio.create_task(self.load.run(stop))
            for name in ("baseline", *faults, "recovered"):
                await self.phase(name)
            self.load.phase = "drain"
            stop.set()
            await running
            async with self.connection() as conn:
                return [await settle(conn, self.load, timeout=90), *await verify(conn, self.load.acks)]
        finally:
            stop.set()
            await self.load.aclose()
            self.stack.close()
            self.pg.close()

    async def phase(self, name: str) -> None:
        phase = Phase(name, time.monotonic())
        self.phases.append(phase)
        self.load.phase = name
        inject: Callable[[Phase], Awaitable[None]] | None = getattr(self, name, None)
        if inject is not None:
            await asyncio.sleep(self.phase_seconds / 4)
            await inject(phase)
        await asyncio.sleep(max(0.0, phase.started + self.phase_seconds - time.monotonic()))
        phase.ended = time.monotonic()
        self.judge(phase)

    def judge(self, phase: Phase) -> None:
        samples = self.api_samples(phase)
        answered = [s for s in samples if isinstance(s.status, int)]
        phase.numbers.update(
            requests=len(samples),
            ok=sum(1 for s in answered if s.status < 400),
            status_503=sum(1 for s in answered if s.status == 503),
            p99_ms=round(percentile([s.ms for s in answered], 0.99)),
        )
        down = phase.down or (0.0, 0.0)
        # While the API is knowingly down, no answer is the expected answer; at any other time it is a fault.
        bad = failures([s for s in samples if not (down[0] <= s.at <= down[1] + 0.5 and not isinstance(s.status, int))])
        phase.numbers["unanswered_while_down"] = sum(
            1 for s in samples if down[0] <= s.at <= down[1] + 0.5 and not isinstance(s.status, int)
        )
        phase.checks.append(
            Check(
                "no 5xx but 503, nothing unanswered while up",
                not bad,
                ", ".join(f"{status}: {n}" for status, n in bad.items()) or "none",
            )
        )


HELD_BY = "SELECT id FROM jobs WHERE status = 'running' AND locked_by LIKE $1"
STILL_HELD = "SELECT count(*) FROM jobs WHERE id = ANY($1::bigint[]) AND status = 'running' AND locked_by LIKE $2"
# Jobs claimed, finished or rescheduled since $1 (a claim moves updated_at past created_at).
PROGRESS = "SELECT count(*) FROM jobs WHERE updated_at > $1 AND updated_at > created_at"
MAKE_RECONCILE_DUE = "UPDATE jobs SET run_at = now() WHERE status = 'queued' AND kind = 'checkout.reconcile'"
MAKE_PERIODIC_DUE = "UPDATE jobs SET run_at = now() WHERE status = 'queued' AND dedupe_key LIKE 'periodic:%'"


def report(run: FaultRun, checks: list[Check]) -> bool:
    print(f"\ncores: {os.cpu_count()}, {run.users} virtual users, {run.phase_seconds:.0f} s per phase\n")
    print("| phase | result | numbers | checks |\n|---|---|---|---|")
    ok = True
    for phase in run.phases:
        passed = all(c.ok for c in phase.checks)
        ok &= passed
        numbers = ", ".join(f"{k}={v}" for k, v in phase.numbers.items())
        details = "; ".join(f"{'ok' if c.ok else 'FAILED'}: {c.name} ({c.detail})" for c in phase.checks)
        print(f"| {phase.name} | {'PASS' if passed else 'FAIL'} | {numbers} | {details} |")
    resent = sum(1 for s in run.load.samples if s.kind == "notify_retry")
    print(f"\nacknowledged: {run.load.acks.counts()}; payment notifications WeChat resent: {resent}\nafterwards:")
    for check in checks:
        ok &= check.ok
        print(f"  {'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    failed = sum(not c.ok for p in run.phases for c in p.checks) + sum(not c.ok for c in checks)
    print(f"\n{'PASS' if ok else 'FAIL'}: {failed} failed checks; logs in {run.stack.logs}")
    return ok


async def run_faults(
    phase_seconds: float, faults: tuple[str, ...], users: int, members: int, logs: Path | None = None
) -> bool:
    run = FaultRun(phase_seconds, users, members, logs)
    checks = await run.run(faults)
    return report(run, checks)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faults")
    parser.add_argument("--phase-seconds", type=float, default=20.0)
    parser.add_argument("--faults", default=",".join(ALL_FAULTS), help=f"comma-separated, of {', '.join(ALL_FAULTS)}")
    parser.add_argument("--users", type=int, default=8, help="virtual users acting at once")
    parser.add_argument("--members", type=int, default=30)
    args = parser.parse_args()
    faults = tuple(f for f in args.faults.split(",") if f)
    if unknown := set(faults) - set(ALL_FAULTS):
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    return 0 if asyncio.run(run_faults(args.phase_seconds, faults, args.users, args.members)) else 1


if __name__ == "__main__":
    sys.exit(main())
