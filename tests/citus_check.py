"""`make citus-check`: the Citus plan on a real local cluster, built from ../shared/citus (not part of `make test`).

Builds Citus once (build.sh), starts a coordinator and two workers (cluster.sh) with a fresh `app` database,
migrates, distributes twice (the second run must place nothing), checks every table sits where the plan says,
runs the concurrency tests that matter against the coordinator, and prints the plans of the hot statements with
a verdict: router (one shard) or not. Without ../shared/citus it says what it needs and checks nothing.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime

import asyncpg

from service.communities import paid_queries as entry
from service.communities import queries as communities
from service.core import presence
from service.core.money import queries as money
from service.db.citus import current_placement, load_plan
from service.feed import page_queries as feed
from service.interactions import queries as metrics
from service.settings import Settings
from tests.citus_survey import report, survey
from tests.factories import create_community, create_users
from tests.support import ROOT, api_client, create_database, drop_database, make_settings, unique_name, with_database
from tests.wechat_support import run_sandbox

KIT = ROOT.parent / "shared" / "citus"
TESTS = [
    "tests/checkout/test_paid_entry.py::test_200_concurrent_paid_joins_for_100_seats",
    "tests/checkout/test_paid_entry.py::test_duplicated_and_reordered_notifications_admit_once",
    "tests/test_admission_races.py::test_200_concurrent_joins_fill_a_cap_of_100_exactly",
    "tests/feed/test_pagination.py",
    "tests/test_account_deletion.py::test_two_workers_erase_each_due_account_once",
]
# The hot statements with sample arguments (community 1, member 2, order 3): what each request runs most.
HOT = {
    "feed page (latest)": (feed.FEED_LATEST.first, 1, 2, None, None, 20),
    "feed page (hot)": (feed.FEED_HOT.first, 1, 2, None, None, 20),
    "feed page (cached, shared part)": (feed.SHARED_LATEST.first, 1, None, None, 20),
    "feed page (cached, the reader's part)": (feed.READER_OF_PAGE, 1, 2, "{1}", None, 60.0, "{3}"),
    "join: the community's lock": (communities.LOCK_COMMUNITY, 1),
    "join: the membership": (communities.MEMBERSHIP, 1, 2),
    "join: admit": (communities.UPSERT_MEMBER, 1, 2, "free"),
    "join: count the member": (communities.ADD_MEMBER_COUNT, 1, 1),
    "payment: read the order": (money.ORDER_BY_NO, "CK1"),
    "payment: lock the order": (money.LOCK_ORDER_BY_NO, 1, "CK1"),
    "payment: mark it paid and enter it in the ledger": (money.MARK_PAID, 3, "4200001", None, 1),
    "payment: the entry": (entry.RECORD_ENTRY_PAYMENT, 3, 1, 72),
    "presence: extend the session": (presence.EXTEND, 2, 1, datetime(2026, 1, 1, tzinfo=UTC), 90.0),
    "metrics: views": (metrics.VIEW_METRICS, 1, date(2026, 1, 1), date(2026, 1, 31), "day"),
    "metrics: days": (metrics.DAY_METRICS, 1, date(2026, 1, 1), date(2026, 1, 31), "day"),
    "the books' check (tests, monitoring)": (money.LEDGER_VIOLATIONS,),
}
# Found by WeChat's number only, so it asks every shard (an index lookup each, no lock); the lock that follows
# is on one shard.
# The books' check reads every order: each shard checks its own (pushed down, no intermediate results).
EXPECTED_FAN_OUT = {"payment: read the order", "the books' check (tests, monitoring)"}


def sh(*command: str, env: dict | None = None) -> str:
    print("+", " ".join(command), flush=True)
    done = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
    print(done.stdout, end="", flush=True)
    return done.stdout


def fresh_cluster() -> str:
    url = sh("bash", str(KIT / "cluster.sh"), "up").split()[0]
    base = int(url.rsplit(":", 1)[1].split("/")[0])
    for port in (base, base + 1, base + 2):
        node = f"postgresql://postgres@localhost:{port}/postgres"
        sh("psql", node, "-qc", "DROP DATABASE IF EXISTS app WITH (FORCE)")
    url = sh("bash", str(KIT / "cluster.sh"), "up").split()[0]
    # Only the tests' own assertions join tables on other columns than the shard key; the product's hot
    # statements are checked for router plans below.
    sh("psql", url, "-qc", "ALTER DATABASE app SET citus.enable_repartition_joins = on")
    return url


async def check_placement(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        placed = await current_placement(conn)
    finally:
        await conn.close()
    plan = load_plan()
    wrong = {p.table: placed.get(p.table) for p in plan if placed.get(p.table) != p.kind}
    if wrong:
        raise SystemExit(f"citus-check: tables not where the plan says: {wrong}")
    kinds = [p.kind for p in plan]
    print(f"placement: {', '.join(f'{kinds.count(k)} {k}' for k in ('distributed', 'reference', 'local'))}")


async def explain_hot(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    not_router = []
    try:
        for name, (sql, *args) in HOT.items():
            try:
                plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN (COSTS OFF) {sql}", *args))
            except asyncpg.PostgresError as exc:  # Citus cannot plan it at all: say so, go on
                plan = f"refused by Citus: {exc}"
            router = "Task Count: 1\n" in plan + "\n"
            verdict = "router (one shard)" if router else "NOT router"
            print(f"\n=== {name}: {verdict}\n{plan}")
            if not router and name not in EXPECTED_FAN_OUT:
                not_router.append(name)
    finally:
        await conn.close()
    return not_router


async def measure(url: str, rounds: int = 100) -> dict[str, float]:
    """Median milliseconds of a free join and of a feed page (40 posts, first page of 20, no page cache), one
    request at a time through the app in this process."""
    async with run_sandbox() as sandbox:  # WeChat checks the community's texts
        settings = make_settings(url, feed_cache_seconds=0, wechat_api_base=sandbox.url)
        return await _measure(settings, url, rounds)


async def _measure(settings: Settings, url: str, rounds: int) -> dict[str, float]:
    owner, *members = await create_users(url, settings, *(f"bench{i}" for i in range(rounds + 1)))
    async with api_client(settings) as client:
        cid = (await create_community(client, owner, memberCap=rounds + 10))["id"]
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "INSERT INTO posts (community_id, author_id, kind, text, status) "
                "SELECT $1, $2, 'post', 'bench ' || i, 'visible' FROM generate_series(1, 40) i",
                int(cid),
                owner.id,
            )
        finally:
            await conn.close()
        timings: dict[str, list[float]] = {"free join": [], "feed page": []}
        for member in members:
            started = time.perf_counter()
            answer = await client.post(f"/v1/communities/{cid}/join", json={}, headers=member.headers)
            timings["free join"].append(time.perf_counter() - started)
            assert answer.status_code == 201, answer.text
        for member in members:
            started = time.perf_counter()
            answer = await client.get(f"/v1/communities/{cid}/feed?limit=20", headers=member.headers)
            timings["feed page"].append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
    return {name: statistics.median(values) * 1000 for name, values in timings.items()}


async def compare(citus_url: str, plain_admin: str) -> None:
    name = unique_name("citusbench")
    await create_database(plain_admin, name)
    plain = with_database(plain_admin, name)
    try:
        sh(sys.executable, "-m", "service", "migrate", env={**os.environ, "DATABASE_URL": plain})
        figures = {"one PostgreSQL": await measure(plain), "Citus coordinator": await measure(citus_url)}
    finally:
        await drop_database(plain_admin, name)
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(f"\nload average {load}, {os.cpu_count()} cores")
    print("| median ms, one request at a time | free join | feed page (20 of 40 posts) |\n|---|---:|---:|")
    for where, f in figures.items():
        print(f"| {where} | {f['free join']:.1f} | {f['feed page']:.1f} |")
    plain, citus = figures["one PostgreSQL"], figures["Citus coordinator"]
    print(
        f"| Citus / one PostgreSQL | {citus['free join'] / plain['free join']:.2f}x "
        f"| {citus['feed page'] / plain['feed page']:.2f}x |"
    )


def main() -> int:
    if not (KIT / "cluster.sh").exists():
        print(
            f"citus-check: needs {KIT} (Citus 13.2.2's source with build.sh and cluster.sh), a Debian PostgreSQL "
            "server and root: not found here, so nothing was checked."
        )
        return 0
    sh("bash", str(KIT / "build.sh"))
    plain_admin = os.environ.get("DATABASE_URL")  # a plain PostgreSQL to compare with, when given
    url = fresh_cluster()
    env = {**os.environ, "DATABASE_URL": url}
    sh(sys.executable, "-m", "service", "migrate", env=env)
    sh(sys.executable, "-m", "service", "distribute", env=env)
    sh(sys.executable, "-m", "service", "distribute", env=env)  # again: places nothing
    asyncio.run(check_placement(url))
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],
        env={**env, "CITUS_CHECK_DATABASE_URL": url},
        check=False,
    )
    not_router = asyncio.run(explain_hot(url))
    report(asyncio.run(survey(url)))
    if plain_admin and plain_admin != url:
        asyncio.run(compare(url, plain_admin))
    print(f"\ntests against the coordinator: {'passed' if tests.returncode == 0 else 'FAILED'}")
    print(f"hot statements not router: {not_router or 'none'} (expected fan-out: {sorted(EXPECTED_FAN_OUT)})")
    return 1 if tests.returncode or not_router else 0


if __name__ == "__main__":
    sys.exit(main())
