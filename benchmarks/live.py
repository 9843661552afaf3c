"""Live fan-out in `make bench`: from a post to the `post` event on N sockets, on one API process or on several
behind Caddy.

The API runs as in production (`python -m service serve`: granian, one worker, with the job worker and the
WeChat sandbox: benchmarks/stack.py); with `--instances 2` two API processes run behind Caddy (infra/Caddyfile),
every socket and every post going through it, so an event reaches the sockets of both processes only through
PostgreSQL's NOTIFY. One member posts through HTTP; N other members each hold a socket, read by a few client
processes (benchmarks/live_readers.py: one Python process cannot read 5,000 sockets quickly enough). A sample
is the time from sending the post to one socket receiving its event (monotonic clock, the same in every
process). The same-run baseline is the same post with one socket open on the same path, so the ratio is what
fanning out to N costs. The readers share the machine's cores with the servers, as real clients would not.
Usage: python -m benchmarks.live [--sockets N] [--posts P] [--instances I] (a reader process per 1,250 sockets)
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from collections import Counter

import httpx

from benchmarks.cpu import CpuAccount
from benchmarks.live_readers import Readers
from benchmarks.processes import established
from benchmarks.stack import SECRET, Stack
from service.core.tokens import issue_access_token
from service.db.pool import connect
from service.settings import load_settings

SOCKETS = 1000
SOCKETS_ACROSS = 5000  # with several instances (make bench --instances N)
POSTS = 20
SOCKETS_PER_READER = 1250


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _poster(stack: Stack) -> tuple[dict[str, str], int, str]:
    """A member signed in through the sandbox (WeChat's content check knows them) and their community."""
    async with httpx.AsyncClient(timeout=30) as client:
        code = (await client.post(f"{stack.sandbox_url}/sandbox/wx-login", json={"user": "poster"})).json()["code"]
        login = (await client.post(f"{stack.api_url}/v1/auth/login", json={"code": code})).json()
        headers = {"Authorization": f"Bearer {login['accessToken']}"}
        community = await client.post(f"{stack.api_url}/v1/communities", json={"name": "晨跑团"}, headers=headers)
        community.raise_for_status()
        return headers, int(login["user"]["id"]), community.json()["id"]


async def _listeners(dsn: str, community_id: str, count: int) -> list[str]:
    """``count`` members of the community (seeded rows), each with an access token."""
    conn = await connect(dsn)
    try:
        ids = [
            row["id"]
            for row in await conn.fetch(
                "INSERT INTO users (appid, openid, nickname) SELECT 'bench', 'live-' || g, 'listener ' || g "
                "FROM generate_series(1, $1) g RETURNING id",
                count,
            )
        ]
        await conn.execute(
            "INSERT INTO memberships (community_id, user_id, role, via) SELECT $1, u, 'member', 'free' "
            "FROM unnest($2::bigint[]) u",
            int(community_id),
            ids,
        )
    finally:
        await conn.close()
    settings = load_settings({}, database_url=dsn, secret_key=SECRET)
    return [issue_access_token(settings, user_id) for user_id in ids]


class Measured:
    """The samples of one measurement and where its sockets were."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.upstreams: Counter[str] = Counter()
        self.closed: Counter[str] = Counter()
        self.cpu: CpuAccount | None = None


def _cpu_groups(stack: Stack) -> dict[str, list[int]]:
    groups = {f"API instance {n + 1}": [stack.pid(stack.api_role(n))] for n in range(len(stack.api_ports))}
    groups.update({"job worker": [stack.pid("worker")], "WeChat sandbox": [stack.pid("sandbox")]})
    if stack.proxy and stack.proxy.process:
        groups["caddy"] = [stack.proxy.process.pid]
    groups["client: socket readers and poster"] = [os.getpid()]
    return groups


def measure(stack: Stack, poster: dict[str, str], community_id: str, tokens: list[str], posts: int) -> Measured:
    """Milliseconds from sending each post to each socket receiving it; every socket must get every post."""
    api_url = stack.api_url
    readers = max(1, math.ceil(len(tokens) / SOCKETS_PER_READER))
    result = Measured()
    before = {port: established(port) for port in stack.api_ports}
    with Readers(api_url.replace("http://", "ws://") + "/v1/live", tokens, readers) as group:
        # Where the sockets landed: the connections each instance holds now and did not before (Caddy opens
        # one upstream connection per socket; a keep-alive connection of the poster may add one or two).
        result.upstreams = Counter({f":{port}": established(port) - before[port] for port in stack.api_ports})
        print(f"    {len(tokens)} sockets open: {dict(result.upstreams)}", file=sys.stderr, flush=True)
        cpu = CpuAccount(_cpu_groups(stack), database=stack.dsn.rsplit("/", 1)[1])
        with httpx.Client(base_url=api_url, timeout=30) as client, cpu:
            for n in range(posts):
                started = time.monotonic()
                answer = client.post(
                    f"/v1/communities/{community_id}/posts", json={"text": f"第{n}条：今天跑了五公里"}, headers=poster
                )
                answer.raise_for_status()
                arrivals = group.arrivals(answer.json()["id"], timeout=60)
                result.samples += [(at - started) * 1000 for at in arrivals]
        result.closed = group.closed
    result.cpu = cpu
    return result


async def _prepare(stack: Stack, dsn: str, sockets: int) -> tuple[dict[str, str], str, list[str]]:
    poster, _, community_id = await _poster(stack)
    return poster, community_id, await _listeners(dsn, community_id, sockets)


def fan_out(
    admin: str, sockets: int = SOCKETS, posts: int = POSTS, instances: int = 1
) -> list[tuple[str, str, str, float, str]]:
    """The two figures against their same-run baseline, on a database of their own (``admin``'s server)."""
    from tests.support import scratch_database

    with scratch_database(admin, "live") as dsn:
        stack = Stack(dsn, "live", instances=instances, newcomer_hours=0, write_rate_posts=1_000_000).start()
        try:
            poster, community_id, tokens = asyncio.run(_prepare(stack, dsn, sockets))
            print(
                f"  live fan-out: 1 socket, then {sockets} ({instances} instance(s)) ...", file=sys.stderr, flush=True
            )
            one = measure(stack, poster, community_id, tokens[:1], posts)
            many = measure(stack, poster, community_id, tokens, posts)
        finally:
            stack.close()
    where = "one process" if instances == 1 else f"{instances} instances behind Caddy"
    if instances > 1:
        where += ": " + " + ".join(f"{n:,}" for _, n in sorted(many.upstreams.items()))
    if many.cpu:
        print(
            f"\n  CPU while {posts} posts went to {sockets:,} sockets:\n{many.cpu.table(posts, 'post')}\n",
            file=sys.stderr,
        )
    if many.closed:
        print(f"    sockets closed by the server during the run: {dict(many.closed)}", file=sys.stderr, flush=True)
    rows = []
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        figure, base = percentile(many.samples, q), percentile(one.samples, q)
        rows.append(
            (
                f"live fan-out {name}: a post to {sockets:,} sockets ({where})",
                f"{figure:.1f} ms",
                f"{base:.1f} ms (1 socket)",
                figure / base,
                "every socket within 1 s",
            )
        )
    return rows


def main() -> int:
    from service.db import embedded
    from tests.support import ROOT

    parser = argparse.ArgumentParser(prog="python -m benchmarks.live")
    parser.add_argument("--sockets", type=int, default=SOCKETS)
    parser.add_argument("--posts", type=int, default=POSTS)
    parser.add_argument("--instances", type=int, default=1, help="API processes behind Caddy (1: no proxy)")
    args = parser.parse_args()
    admin = os.environ.get("DATABASE_URL") or embedded.start(ROOT / ".data" / "bench-pg")
    rows = fan_out(admin, args.sockets, args.posts, args.instances)
    print(f"\ncores: {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| measurement | figure | same-run baseline | ratio | goal |\n|---|---:|---:|---:|---|")
    for name, figure, baseline, ratio, goal in rows:
        print(f"| {name} | {figure} | {baseline} | {ratio:.2f} | {goal} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
