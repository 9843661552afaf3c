"""Live fan-out in `make bench`: from a post to the `post` event on N sockets of one API process.

The API runs as in production (`python -m service serve`: granian, one worker, with the job worker and the
WeChat sandbox: benchmarks/stack.py). One member posts through HTTP; N other members each hold a socket. A
sample is the time from sending the post to one socket receiving its event. The same-run baseline is the same
post with one socket open, so the ratio is what fanning out to N costs. The sockets' reader (this process)
shares the machine with the server, as a load balancer's clients would not.
Usage: python -m benchmarks.live [--sockets N] [--posts P]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

import httpx
import websockets

from benchmarks.stack import SECRET, Stack
from service.core.tokens import issue_access_token
from service.db.pool import connect
from service.settings import load_settings

SOCKETS = 1000
POSTS = 20


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


async def _measure(
    stack: Stack, poster: dict[str, str], community_id: str, tokens: list[str], posts: int
) -> list[float]:
    """Milliseconds from sending each post to each socket receiving it."""
    url = stack.api_url.replace("http://", "ws://") + "/v1/live"
    arrivals: dict[str, list[float]] = {}  # post id -> when each socket got it (it may come before the answer)
    arrived = asyncio.Event()

    async def listen(socket) -> None:
        async for raw in socket:
            at = time.perf_counter()
            message = json.loads(raw)
            if message["type"] == "post":
                arrivals.setdefault(message["postId"], []).append(at)
                arrived.set()

    sockets = []
    for start in range(0, len(tokens), 100):  # open them in batches, as clients arriving
        batch = tokens[start : start + 100]
        sockets += await asyncio.gather(
            *(websockets.connect(url, additional_headers={"Authorization": f"Bearer {t}"}) for t in batch)
        )
    for socket in sockets:
        assert json.loads(await socket.recv())["type"] == "ready"
    readers = [asyncio.create_task(listen(socket)) for socket in sockets]
    samples: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
            for n in range(posts):
                started = time.perf_counter()
                answer = await client.post(
                    f"/v1/communities/{community_id}/posts", json={"text": f"第{n}条：今天跑了五公里"}, headers=poster
                )
                answer.raise_for_status()
                post_id = answer.json()["id"]
                async with asyncio.timeout(30):
                    while len(arrivals.get(post_id, ())) < len(sockets):
                        arrived.clear()
                        await arrived.wait()
                samples += [(at - started) * 1000 for at in arrivals[post_id]]
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)
    return samples


async def fan_out(admin: str, sockets: int = SOCKETS, posts: int = POSTS) -> list[tuple[str, str, str, float, str]]:
    """The two figures against their same-run baseline, on a database of their own (``admin``'s server)."""
    from tests.support import create_database, unique_name, with_database

    name = unique_name("live")
    await create_database(admin, name)
    dsn = with_database(admin, name)
    stack = Stack(dsn, "live", newcomer_hours=0, write_rate_posts=1_000_000, live_queue_size=1000).start()
    try:
        poster, _, community_id = await _poster(stack)
        tokens = await _listeners(dsn, community_id, sockets)
        print(f"  live fan-out: 1 socket, then {sockets} ...", file=sys.stderr, flush=True)
        one = await _measure(stack, poster, community_id, tokens[:1], posts)
        many = await _measure(stack, poster, community_id, tokens, posts)
    finally:
        stack.close()
    rows = []
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        figure, base = percentile(many, q), percentile(one, q)
        rows.append(
            (
                f"live fan-out {name}: a post to {sockets:,} sockets (one process)",
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
    args = parser.parse_args()
    admin = os.environ.get("DATABASE_URL") or embedded.start(ROOT / ".data" / "bench-pg")
    print("| measurement | figure | same-run baseline | ratio | goal |\n|---|---:|---:|---:|---|")
    for name, figure, baseline, ratio, goal in asyncio.run(fan_out(admin, args.sockets, args.posts)):
        print(f"| {name} | {figure} | {baseline} | {ratio:.2f} | {goal} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
