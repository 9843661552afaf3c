"""`make soak`: the whole service under a realistic mix for a few minutes, on loopback.

Starts the WeChat sandbox, the API (granian, one worker) and the job worker as processes against a fresh
database (on DATABASE_URL's server, else the embedded one), logs members in through the sandbox and drives
`benchmarks.load`'s mix. Prints throughput, p50/p99 and answers per kind, the API's and the worker's resident
memory after the warm-up and at the end, then checks every acknowledged write against the database.

Usage: python -m benchmarks.soak [--minutes 3] [--users 12] [--members 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from benchmarks.load import WRITES, Load, failures, summarise
from benchmarks.stack import ROOT, Stack
from benchmarks.verify import settle, verify
from service.db import embedded
from service.db.pool import connect

WARM_UP = 15.0


def print_table(load: Load, seconds: float) -> None:
    samples = [s for s in load.samples if s.phase == "run"]
    print("\n| kind | requests | req/s | p50 ms | p99 ms | answers |\n|---|---:|---:|---:|---:|---|")
    for kind, row in summarise(samples).items():
        answers = ", ".join(f"{status}: {n}" for status, n in sorted(row["statuses"].items(), key=str))
        print(
            f"| {kind} | {row['count']} | {row['count'] / seconds:.1f} | {row['p50']:.1f} | {row['p99']:.1f} | "
            f"{answers} |"
        )
    api = [s for s in samples if s.kind not in ("wx_login", "pay", "notify_retry")]
    writes = [s for s in api if s.kind in WRITES]
    total = summarise([s.__class__(s.at, s.phase, "all", s.ms, s.status) for s in api])["all"]
    print(
        f"\nAPI requests: {len(api)} in {seconds:.0f} s = {len(api) / seconds:.0f} req/s "
        f"({len(writes) / seconds:.0f} writes/s); p50 {total['p50']:.1f} ms, p99 {total['p99']:.1f} ms; "
        f"failures (5xx but 503, no answer): {sum(failures(api).values())}"
    )


async def soak(dsn: str, minutes: float, users: int, members: int) -> int:
    # All members are new: the newcomer limits (3 posts in the first day) would turn the mix into 429s.
    stack = Stack(dsn, "soak", newcomer_hours=0).start()
    load = Load(stack.api_url, stack.sandbox_url, members=members, users=users)
    stop = asyncio.Event()
    rss: list[tuple[float, float, float]] = []
    try:
        await load.setup()
        running = asyncio.create_task(load.run(stop))
        await asyncio.sleep(WARM_UP)
        load.samples.clear()  # the figures start after the warm-up
        started = time.monotonic()
        while time.monotonic() - started < minutes * 60:
            rss.append((time.monotonic() - started, stack.rss_mib("api"), stack.rss_mib("worker")))
            await asyncio.sleep(min(10.0, max(0.0, minutes * 60 - (time.monotonic() - started))))
        rss.append((time.monotonic() - started, stack.rss_mib("api"), stack.rss_mib("worker")))
        seconds = time.monotonic() - started
        load.phase = "drain"
        stop.set()
        await running
        print(
            f"\ncores: {os.cpu_count()}, {users} virtual users over {members} members, {seconds:.0f} s after a "
            f"{WARM_UP:.0f} s warm-up; API: granian, 1 worker; job worker: 1 process"
        )
        print_table(load, seconds)
        (_, api_start, worker_start), (_, api_end, worker_end) = rss[0], rss[-1]
        print(
            f"RSS MiB, API (granian + worker): {api_start:.0f} -> {api_end:.0f} ({api_end - api_start:+.0f}); "
            f"job worker: {worker_start:.0f} -> {worker_end:.0f} ({worker_end - worker_start:+.0f}); "
            f"samples: {', '.join(f'{t:.0f}s {a:.0f}' for t, a, _ in rss)}"
        )
        conn = await connect(dsn)
        try:
            checks = [await settle(conn, load), *await verify(conn, load.acks)]
        finally:
            await conn.close()
        print(f"\nacknowledged: {load.acks.counts()}; events refused: {dict(load.rejected_events) or 'none'}")
        for check in checks:
            print(f"  {'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        return 0 if all(c.ok for c in checks) else 1
    finally:
        stop.set()
        await load.aclose()
        stack.close()
        print(f"logs: {stack.logs}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--users", type=int, default=12, help="virtual users acting at once")
    parser.add_argument("--members", type=int, default=40, help="members logged in through the sandbox")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    admin = os.environ.get("DATABASE_URL") or embedded.start(ROOT / ".data" / "bench-pg")
    from tests.support import scratch_database

    with scratch_database(admin, "soak", keep=args.keep) as dsn:
        return asyncio.run(soak(dsn, args.minutes, args.users, args.members))


if __name__ == "__main__":
    sys.exit(main())
