"""`make bench`: start the API under a real ASGI server, load it with wrk, print ratios to the baseline.

Every figure is measured in the same run as the baseline it is divided by, because the machines are
noisy. Usage: python -m benchmarks [--duration S] [--connections N] [--servers granian,uvicorn] [--only NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from benchmarks import live, media, metrics, replica, throughput
from benchmarks.alternated import against_bare
from benchmarks.cpu import CpuAccount, backend_cpu_seconds
from benchmarks.processes import free_port, process_tree, stop, tree_peak_rss_kib
from benchmarks.scaling import scaling
from benchmarks.scenarios import BASELINE, SCENARIOS, UNCACHED_FEED_GOAL, Request, Scenario
from service.db import embedded
from service.db.migrate import migrate
from service.db.pool import connect
from service.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
BENCH_SECRET = "bench-secret-key-0123456789-0123456789-abcdef"

REPORT_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nRESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
    .. '"errors":%d,"non2xx":%d}\\n', summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
"""

SERVERS = {
    "granian": lambda port: [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--factory",
        "--loop",
        "uvloop",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-ws",
        "benchmarks.server:app_from_env",
    ],
    # The bare one-query limit (benchmarks/bare.py) under the same granian settings.
    "bare": lambda port: [*SERVERS["granian"](port)[:-1], "benchmarks.bare:app_from_env"],
    "uvicorn": lambda port: [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--lifespan",
        "on",
        "benchmarks.server:app_from_env",
    ],
}


NO_CACHE = "granian, no feed cache"
INGEST_TARGET: list[int] = []  # (community, member, post) the ingestion benchmark writes to
METRICS_COMMUNITY: list[int] = []


def lua_for(request: Request) -> str:
    if request.script:
        return request.script + REPORT_LUA
    if request.rotation:
        sign = request.sign or (lambda body: {})
        entries = ",\n".join(
            "{"
            + ", ".join(
                f"[{json.dumps(k)}] = {json.dumps(v)}"
                for k, v in {**h, **sign(b.encode()), "Content-Type": "application/json"}.items()
            )
            + "}, "
            + json.dumps(b)
            for h, b in request.rotation
        )
        return (
            f"local items = {{\n{entries}\n}}\nlocal n = 0\n"
            "request = function()\n  n = n % (#items / 2) + 1\n"
            f'  return wrk.format("{request.method}", nil, items[2 * n - 1], items[2 * n])\nend\n'
        ) + REPORT_LUA
    lines = [f'wrk.method = "{request.method}"']
    for key, value in request.headers.items():
        lines.append(f'wrk.headers["{key}"] = {json.dumps(value)}')
    if request.body is not None:
        lines.append(f"wrk.body = {json.dumps(request.body)}")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    return "\n".join(lines) + "\n" + REPORT_LUA


def measured_wrk(
    proc: subprocess.Popen, dsn: str, base_url: str, request: Request, duration: int, connections: int
) -> dict:
    """run_wrk, with the CPU the server's process tree and the database's backends used per request: figures a
    shared machine does not skew as it skews req/s (benchmarks/cpu.py)."""
    database = urlsplit(dsn).path.lstrip("/")  # the DSN's host may be a socket's folder: a path with slashes
    with CpuAccount({"api": [proc.pid], "wrk": [os.getpid()]}, database=database) as cpu:
        result = run_wrk(base_url, request, duration, connections)
    served = max(result["requests"], 1)
    result["api_cpu_ms"] = cpu.seconds.get("api", 0.0) * 1000 / served
    result["pg_cpu_ms"] = cpu.seconds.get("postgres (this database)", 0.0) * 1000 / served
    result["load"] = os.getloadavg()[0]
    return result


def run_wrk(base_url: str, request: Request, duration: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_for(request))
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{duration}s",
                "--latency",
                "-s",
                script.name,
                base_url + request.path,
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


async def seed_database(dsn: str, ingest: bool = True, metrics: bool = True) -> dict[str, Request]:
    """Migrate the new database `dsn` and seed every scenario; answers the wrk request of each."""
    settings = load_settings({}, database_url=dsn, secret_key=BENCH_SECRET)
    conn = await connect(dsn)
    try:
        await migrate(conn)
        requests = {}
        for scenario in [BASELINE, *SCENARIOS]:
            requests[scenario.name] = await scenario.seed(conn, settings)
        if ingest:
            requests["ingest"], INGEST_TARGET[:] = await throughput.seed_ingestion(conn, settings)
        if metrics:
            print("  seeding 100k posts, 400k comments, 1 M events for the metrics ...", file=sys.stderr, flush=True)
            METRICS_COMMUNITY[:] = [await throughput.seed_metrics(conn, settings)]
        # Measure the steady state, not the seeding's aftermath: after 1.5 M inserted rows autovacuum would
        # visit the big tables during the first scenarios, and the checkpointer write their pages out.
        started = time.monotonic()
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
        print(f"  vacuumed and checkpointed in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    finally:
        await conn.close()
    return requests


def start_server(kind: str, dsn: str, workers_env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        **workers_env,
        "DATABASE_URL": dsn,
        "SECRET_KEY": BENCH_SECRET,
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MIN": "10",
        "DB_POOL_MAX": "10",
        "PORT": str(port),
        # wrk searches as one member, far past a member's limit: the benchmark measures the search itself.
        "SEARCH_PER_MINUTE": "10000000",
    }
    proc = subprocess.Popen(SERVERS[kind](port), cwd=ROOT, env=env, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} exited with {proc.returncode}")
        try:
            if httpx.get(base_url + "/readyz", timeout=1).status_code == 200:
                return proc, base_url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"{kind} did not become ready")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", 10)))
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--servers", default="granian", help="comma-separated: granian,uvicorn")
    parser.add_argument("--only", action="append", default=[], help="scenario names to run (baseline always runs)")
    parser.add_argument(
        "--instances", type=int, default=0, help="also: req/s through Caddy with 1 and N granian instances"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is required (apt-get install wrk)", file=sys.stderr)
        return 2

    admin = os.environ.get("DATABASE_URL") or embedded.start(ROOT / ".data" / "bench-pg")
    with_ingest = not args.only or "ingest" in args.only
    with_metrics = not args.only or "metrics" in args.only  # 1 M events to seed: only when measured
    from tests.support import scratch_database

    with scratch_database(admin, "bench") as dsn:
        requests = asyncio.run(seed_database(dsn, with_ingest, with_metrics))
        return run(args, admin, dsn, requests, with_ingest=with_ingest, with_metrics=with_metrics)


def run(args, admin: str, dsn: str, requests: dict, *, with_ingest: bool, with_metrics: bool) -> int:
    """Every measurement the arguments ask for, on the seeded database `dsn`; prints the tables."""
    comparisons: list[tuple[str, str, str, float, str]] = []
    scenarios: list[Scenario] = [BASELINE] + [s for s in SCENARIOS if not args.only or s.name in args.only]
    rows = [measure("bare", dsn, {}, BASELINE, requests, args)]  # the limit: one SELECT, nothing of the app
    for kind in args.servers.split(","):
        media_env = {**media.SERVER_ENV, "MEDIA_DIR": tempfile.mkdtemp(prefix="bench-media-")}
        proc, base_url = start_server(kind, dsn, media_env)
        try:
            for scenario in scenarios:
                if not requests[scenario.name].rotation:  # a rotation is used once: no warm-up run
                    run_wrk(base_url, requests[scenario.name], 2, args.connections)
                connections = scenario.connections or args.connections
                result = measured_wrk(proc, dsn, base_url, requests[scenario.name], args.duration, connections)
                result.update(server=kind, scenario=scenario.name, goal=scenario.goal, connections=connections)
                rows.append(result)
                print(f"  {kind:8} {scenario.name:24} {result['rps']:9.0f} req/s", file=sys.stderr, flush=True)
            if kind == "granian" and {"feed_latest", "feed_hot"} & {s.name for s in scenarios}:
                # The same feed pages with no page cache: what every read costs the database.
                rows += [
                    {**row, "server": NO_CACHE, "goal": UNCACHED_FEED_GOAL}
                    for row in measure_all("granian", dsn, {"FEED_CACHE_SECONDS": "0"}, requests, args, "feed_")
                ]
            if with_ingest and kind == args.servers.split(",")[0]:
                comparisons += ingestion(base_url, dsn, requests["ingest"], args.duration, proc.pid)
            if (not args.only or "media" in args.only) and kind == args.servers.split(",")[0]:
                comparisons += uploads(base_url, requests["feed_latest"], args.duration)
            rss_mib = tree_peak_rss_kib(proc.pid) / 1024
        finally:
            stop(proc)
        for row in rows:
            row.setdefault("rss_mib", rss_mib)

    if feeds := [name for name in ("feed_latest", "feed_hot") if name in {s.name for s in scenarios}]:
        seconds, conns = max(args.duration // 2, 3), args.connections
        for env, label, goal in (({}, "cached", ">= 0.80"), ({"FEED_CACHE_SECONDS": "0"}, "uncached", ">= 0.40")):
            comparisons += against_bare(start_server, run_wrk, dsn, requests, feeds, env, label, goal, seconds, conns)

    print(f"\ncores: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}, wrk -t1 -d{args.duration}s, one worker\n")
    print(
        "| server | scenario | conns | req/s | p50 ms | p99 ms | req/s vs baseline | p99 vs baseline "
        "| req/s vs bare limit | errors | peak RSS MiB | goal |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    bare = rows[0]
    for row in rows:
        # The no-cache feed runs on a server of its own: compared with the granian baseline.
        server = "granian" if row["server"] == NO_CACHE else row["server"]
        base = next(r for r in rows if r["server"] == server and r["scenario"] == "baseline")
        p99_ratio = row["p99_us"] / max(base["p99_us"], 1)
        print(
            f"| {row['server']} | {row['scenario']} | {row['connections']} | {row['rps']:.0f} | "
            f"{row['p50_us'] / 1000:.2f} | {row['p99_us'] / 1000:.2f} | {row['rps'] / base['rps']:.2f} | "
            f"{p99_ratio:.2f} | {row['rps'] / bare['rps']:.2f} | {row['errors'] + row['non2xx']} | "
            f"{row['rss_mib']:.0f} | {row['goal']} |"
        )
    print(
        "\n| server | scenario | API CPU ms/req | its database's CPU ms/req | load average after |\n"
        "|---|---|---:|---:|---:|"
    )
    for row in rows:
        if "api_cpu_ms" in row:
            print(
                f"| {row['server']} | {row['scenario']} | {row['api_cpu_ms']:.3f} | {row['pg_cpu_ms']:.3f} | "
                f"{row['load']:.2f} |"
            )
    if args.instances > 1:
        scaling(dsn, requests, args, start_server, run_wrk)
    if not args.only or "replica" in args.only:  # the feed from the primary vs from a streaming replica
        rows = replica.compare(start_server, run_wrk, BENCH_SECRET, args.duration, args.connections)
        replica.report(rows, args.duration, args.connections)
    if with_metrics:
        comparisons += asyncio.run(metrics_comparison(dsn))
    if not args.only or "live" in args.only:
        comparisons += live.fan_out(admin)
        if args.instances > 1:  # every member's socket through Caddy, spread over the instances
            comparisons += live.fan_out(admin, live.SOCKETS_ACROSS, instances=args.instances)
    if comparisons:
        print("\n| measurement | figure | same-run baseline | ratio | goal |\n|---|---:|---:|---:|---|")
        for name, figure, baseline, ratio, goal in comparisons:
            print(f"| {name} | {figure} | {baseline} | {ratio:.2f} | {goal} |")
    return 0


def measure(kind: str, dsn: str, env: dict[str, str], scenario: Scenario, requests: dict, args) -> dict:
    """One scenario on a server of its own: warmed up, then measured."""
    return measure_all(kind, dsn, env, requests, args, scenario.name, [scenario])[0]


def measure_all(
    kind: str, dsn: str, env: dict[str, str], requests: dict, args, prefix: str, scenarios: list | None = None
) -> list[dict]:
    """The scenarios whose name starts with `prefix`, on one server started with `env`."""
    chosen = [s for s in scenarios or SCENARIOS if s.name.startswith(prefix) and s.name in requests]
    proc, base_url = start_server(kind, dsn, env)
    rows = []
    try:
        for scenario in chosen:
            run_wrk(base_url, requests[scenario.name], 2, args.connections)
            result = measured_wrk(proc, dsn, base_url, requests[scenario.name], args.duration, args.connections)
            result.update(server=kind, scenario=scenario.name, goal=scenario.goal, connections=args.connections)
            print(f"  {kind:8} {scenario.name:24} {result['rps']:9.0f} req/s ({env or 'as is'})", file=sys.stderr)
            rows.append(result)
        rss_mib = tree_peak_rss_kib(proc.pid) / 1024
    finally:
        stop(proc)
    return [{**row, "rss_mib": rss_mib} for row in rows]


def uploads(base_url: str, feed: Request, duration: int) -> list[tuple[str, str, str, float, str]]:
    """Photo uploads (benchmarks/media.py): CPU per upload, uploads/s, and the feed's p99 beside them."""
    print("  photo uploads beside the feed ...", file=sys.stderr, flush=True)
    photo = media.phone_jpeg()
    run_feed = lambda: run_wrk(base_url, feed, duration, 16)  # noqa: E731
    return [media.cpu_per_upload(photo), *media.uploads_beside_feed(base_url, feed.headers, run_feed, duration, photo)]


def ingestion(
    base_url: str, dsn: str, request: Request, duration: int, api_pid: int
) -> list[tuple[str, str, str, float, str]]:
    """Events per second through POST /v1/events against COPY of as many events into the same table; beside
    them the CPU per event of the API process (its worker included) and of this database's backends, which a
    loaded machine does not distort as it does the events per second."""
    community, member, post = INGEST_TARGET

    async def count() -> int:
        conn = await connect(dsn)
        try:
            return await conn.fetchval("SELECT count(*) FROM interaction_events WHERE community_id = $1", community)
        finally:
            await conn.close()

    before = asyncio.run(count())
    with CpuAccount({"api": process_tree(api_pid)}, database=urlsplit(dsn).path.lstrip("/")) as cpu:
        result = run_wrk(base_url, request, duration, 16)
    inserted = asyncio.run(count()) - before
    api_rate = inserted / (result["duration_us"] / 1e6)

    async def copy() -> tuple[float, float, float]:
        """One COPY of as many events: its seconds, this client's CPU seconds and its backend's."""
        conn = await connect(dsn)
        try:
            backend, client = backend_cpu_seconds(conn.get_server_pid()), time.process_time()
            seconds = await throughput.copy_events(conn, inserted, community, member, post)
            return seconds, time.process_time() - client, backend_cpu_seconds(conn.get_server_pid()) - backend
        finally:
            await conn.close()

    # The faster of two COPYs is the limit: one slowed by what the machine did meanwhile (autovacuum of the events
    # just written, a checkpoint) made the ratio pass once (134,386 events/s against 164,000-180,000 otherwise).
    seconds, copy_cpu, copy_pg = min(asyncio.run(copy()) for _ in range(2))
    copy_rate = inserted / seconds
    copy_us = copy_cpu * 1e6 / max(inserted, 1)
    copy_pg_us = copy_pg * 1e6 / max(inserted, 1)
    api_us = cpu.seconds.get("api", 0.0) * 1e6 / max(inserted, 1)
    pg_us = cpu.seconds.get("postgres (this database)", 0.0) * 1e6 / max(inserted, 1)
    print(
        f"  ingestion: {inserted} events; CPU per event: API {api_us:.2f} us, its database {pg_us:.2f} us; "
        f"COPY's client {copy_us:.2f} us, its database {copy_pg_us:.2f} us; load {os.getloadavg()[0]:.2f}",
        file=sys.stderr,
        flush=True,
    )
    return [
        (
            "event ingestion, POST /v1/events (batches of 100, 16 conns)",
            f"{api_rate:,.0f} events/s",
            f"{copy_rate:,.0f} events/s (asyncpg COPY)",
            api_rate / copy_rate,
            ">= 0.60",
        ),
        (
            "ingestion CPU per event, us: API process; its database",
            f"{api_us:.2f}; {pg_us:.2f}",
            f"COPY's client {copy_us:.2f}; its database {copy_pg_us:.2f}",
            (api_us + pg_us) / max(copy_us + copy_pg_us, 1e-9),
            "",
        ),
    ]


async def metrics_comparison(dsn: str) -> list[tuple[str, str, str, float, str]]:
    """The 30-day metrics against count(*) of the events, the old speech query beside, the triggers' write cost."""
    conn = await connect(dsn)
    try:
        settings = load_settings({}, database_url=dsn, secret_key=BENCH_SECRET)
        return await metrics.comparisons(conn, settings, METRICS_COMMUNITY[0])
    finally:
        await conn.close()


if __name__ == "__main__":
    sys.exit(main())
