"""Two API processes behind Caddy (configured by infra/Caddyfile) over one database, as production runs them:
what one instance knows, the other knows too. Round robin sends consecutive requests to alternate instances,
so every pair below crosses from one to the other: an idempotent retry, the write limit, the WeChat access
token, the feed cache's bounded staleness; and an instance killed mid-use costs the client nothing."""

from __future__ import annotations

import asyncio
import shutil
import time

import httpx
import pytest

from benchmarks.stack import Stack
from tests.wechat_support import bearer, login

FEED_CACHE_SECONDS = 1.0


@pytest.fixture
def stack(database_url: str):
    assert shutil.which("caddy"), "Debian's caddy is required: `make test` installs it (apt-get install caddy)"
    stack = Stack(
        database_url,
        "instances",
        instances=2,
        write_rate_posts=3,
        newcomer_hours=0,
        feed_cache_seconds=FEED_CACHE_SECONDS,
    )
    try:
        yield stack.start()
    finally:
        stack.close()


async def test_two_instances_behind_caddy_share_what_they_know(stack: Stack):
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as api:
        alice = bearer(await login(api, stack.sandbox_url, "alice"))
        bob = bearer(await login(api, stack.sandbox_url, "bob"))

        # A retry of a creation lands on the other instance and answers the community created first.
        retry = {**alice, "Idempotency-Key": "create-1"}
        first, second = [await api.post("/v1/communities", json={"name": "跑团"}, headers=retry) for _ in range(2)]
        assert (first.status_code, second.status_code) == (201, 201)
        assert first.headers["x-upstream"] != second.headers["x-upstream"]  # one answer from each instance
        assert first.json()["id"] == second.json()["id"]
        mine = await api.get("/v1/me/communities", headers=alice)
        assert [c["id"] for c in mine.json()["items"]] == [first.json()["id"]]
        cid = first.json()["id"]
        assert (await api.post(f"/v1/communities/{cid}/join", headers=bob)).status_code in (200, 201)

        # Bob's reads fill both instances' caches; Alice writes through both.
        for _ in range(2):
            assert (await api.get(f"/v1/communities/{cid}/feed", headers=bob)).status_code == 200
        posted = [
            await api.post(f"/v1/communities/{cid}/posts", json={"text": f"第{i}条"}, headers=alice) for i in range(4)
        ]
        assert [p.status_code for p in posted] == [201, 201, 201, 429]  # one limit over both instances
        ids = {p.json()["id"] for p in posted[:3]}

        # The author sees her posts at once on either instance; others within the cache's lifetime.
        for _ in range(2):
            feed = (await api.get(f"/v1/communities/{cid}/feed", headers=alice)).json()
            assert ids <= {item["id"] for item in feed["items"]}
        deadline = time.monotonic() + FEED_CACHE_SECONDS + 2
        seen = [False, False]
        while not all(seen) and time.monotonic() < deadline:
            for index in range(2):
                feed = (await api.get(f"/v1/communities/{cid}/feed", headers=bob)).json()
                seen[index] = ids <= {item["id"] for item in feed["items"]}
            await asyncio.sleep(0.1)
        assert all(seen), "a reader saw the new posts on neither or only one instance within the bound"

        # Both instances called WeChat's content check with the one access token: fetched once for both.
        stats = (await api.get(f"{stack.sandbox_url}/sandbox/stats")).json()
        assert stats.get("msg_sec_check", 0) >= 3
        assert stats.get("stable_token", 0) + stats.get("token", 0) == 1, stats

        # An instance dies: Caddy skips it and retries on the other; the client sees nothing of it.
        stack.kill("api")
        answers = [await api.get("/v1/me", headers=bob) for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 6
        assert {a.headers["x-upstream"] for a in answers} == {f"127.0.0.1:{stack.api_ports[1]}"}
