"""The feed's fast lane (service/feed/lane.py): it answers the feed reads it recognises before Litestar routes
them, exactly as the route would, errors included, and passes everything else on to Litestar.

The lane is called here as the ASGI wrapper it is, around a stand-in for Litestar that records what reached it;
the route's own answer comes from the running app over HTTP, for the same request spelled so the lane passes it on
(one character of a value percent-encoded, which Litestar decodes)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from service.feed.lane import feed_lane, feed_query
from tests.feed.conftest import World
from tests.support import http_client, make_settings, reused_app, serve
from tests.world import assert_problem


@pytest.mark.parametrize(
    ("query", "parsed"),
    [
        (b"", {}),
        (b"order=hot&limit=20", {"order": "hot", "limit": "20"}),
        (b"limit=5&order=latest", {"limit": "5", "order": "latest"}),
        (b"cursor=WyJsYXRlc3QiXQ&limit=50", {"cursor": "WyJsYXRlc3QiXQ", "limit": "50"}),
        (b"since=42", {"since": "42"}),
        (b"order=hot&order=latest", None),  # twice: Litestar decides
        (b"limit=51", None),
        (b"limit=0", None),
        (b"limit=020", None),
        (b"order=l%61test", None),
        (b"order=best", None),
        (b"cursor=a%3D", None),
        (b"since=0", None),
        (b"page=2", None),
        (b"order", None),
        (b"&", None),
    ],
)
def test_the_lane_takes_only_queries_it_reads_as_they_are(query, parsed):
    assert feed_query(query) == parsed


class _Litestar:
    """Stands in for the app behind the lane: records what was passed on and answers 599."""

    def __init__(self) -> None:
        self.passed: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        self.passed.append(scope["path"] + "?" + scope["query_string"].decode())
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _asgi_get(lane, app, path: str, query: str, headers: dict[str, str]) -> tuple[int, dict[bytes, bytes], bytes]:
    """What an ASGI server and Litestar's app hand their handler for a GET (the app sets `litestar_app`)."""
    scope = {
        "type": "http",
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "litestar_app": app,
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await lane(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def _spelled_for_litestar(query: str) -> str:
    """The same query with the first character of its first value percent-encoded: the lane passes it on."""
    name, _, rest = query.partition("=")
    return f"{name}=%{ord(rest[0]):02X}{rest[1:]}"


@pytest.mark.parametrize("cache_seconds", [0, 60])
async def test_the_lane_answers_as_the_route_does(database_url, sandbox, cache_seconds):
    settings = make_settings(
        database_url, wechat_api_base=sandbox.url, newcomer_hours=0, feed_cache_seconds=cache_seconds
    )
    async with reused_app(settings) as app, serve(app) as base_url, http_client(base_url=base_url) as client:
        world = World(client, sandbox)
        alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
        cid = await world.community(alice, bob, carol)
        first = await world.post(alice, cid, "周末一起跑步")
        await world.post(bob, cid, "配速五分半")
        await world.comment(carol, first["id"], "算我一个")
        assert (await client.put(f"/v1/posts/{first['id']}/like", headers=bob.headers)).status_code == 200
        held = await world.post(carol, cid, "please sandbox-review this")
        assert held["status"] == "pending"  # only carol sees it
        cursor = (await world.feed(alice, cid, limit=1))["nextCursor"]
        hot_cursor = (await world.feed(alice, cid, limit=1, order="hot"))["nextCursor"]

        path = f"/v1/communities/{cid}/feed"
        queries = [
            "order=latest&limit=20",
            "order=hot",
            "limit=2",
            f"cursor={cursor}&limit=2",
            f"order=hot&cursor={hot_cursor}",
            f"since={first['id']}",
        ]
        for reader in (alice, bob, carol):
            for query in queries:
                behind = _Litestar()
                status, headers, body = await _asgi_get(feed_lane(behind, app), app, path, query, reader.headers)
                assert behind.passed == [] and status == 200, (query, body)
                assert headers[b"content-type"] == b"application/json"
                assert int(headers[b"content-length"]) == len(body)
                routed = await client.get(f"{path}?{_spelled_for_litestar(query)}", headers=reader.headers)
                assert routed.status_code == 200, routed.text
                assert json.loads(body) == routed.json(), (reader.name, query)
        # What each reader saw is theirs: bob's like, carol's pending post.
        bobs = json.loads((await _asgi_get(feed_lane(_Litestar(), app), app, path, "", bob.headers))[2])
        assert [item["likedByMe"] for item in bobs["items"] if item["id"] == first["id"]] == [True]
        carols = json.loads((await _asgi_get(feed_lane(_Litestar(), app), app, path, "", carol.headers))[2])
        assert held["id"] in [item["id"] for item in carols["items"]]

        # Through the whole app, the lane's answer carries the headers of the route's, the request id among them.
        answered = await client.get(path, headers={**alice.headers, "X-Request-Id": "lane-1"})
        routed = await client.get(f"{path}?{_spelled_for_litestar('order=latest')}", headers=alice.headers)
        assert answered.status_code == 200 and answered.headers["x-request-id"] == "lane-1"
        assert _headers(answered) == _headers(routed) and answered.json() == routed.json()


def _headers(response) -> dict[str, str]:
    """An answer's headers but those that differ from one answer to the next (the request id, the date)."""
    return {name: value for name, value in response.headers.items() if name not in ("x-request-id", "date")}


async def test_the_lane_answers_errors_as_the_route_does_and_reads_once(database_url, sandbox):
    settings = make_settings(database_url, wechat_api_base=sandbox.url, newcomer_hours=0, db_command_timeout=1.0)
    async with reused_app(settings) as app, serve(app) as base_url, http_client(base_url=base_url) as client:
        world = World(client, sandbox)
        alice, dave = await world.member("alice"), await world.member("dave")
        cid = await world.community(alice)
        await world.post(alice, cid, "第一条")
        await world.post(alice, cid, "第二条")
        hot = (await world.feed(alice, cid, limit=1, order="hot"))["nextCursor"]
        assert hot is not None
        forged = {"authorization": alice.headers["authorization"][:-2] + "xx"}
        feed = f"/v1/communities/{cid}/feed"

        async def answered_as_routed(path: str, query: str, headers: dict[str, str], status: int, code: str) -> None:
            behind = _Litestar()
            got, sent_headers, body = await _asgi_get(feed_lane(behind, app), app, path, query, headers)
            assert behind.passed == [], "the lane answers the error itself: the page is not read again"
            routed = await client.get(f"{path}?{_spelled_for_litestar(query)}", headers=headers)
            problem = assert_problem(routed, status, code)
            assert got == status and sent_headers[b"content-type"] == b"application/problem+json"
            assert {**json.loads(body), "requestId": None} == {**problem, "requestId": None}

        await answered_as_routed(feed, "order=latest", {}, 401, "unauthorized")
        await answered_as_routed(feed, "order=latest", forged, 401, "unauthorized")
        await answered_as_routed(feed, "order=hot", dave.headers, 403, "not_member")
        await answered_as_routed("/v1/communities/999999999/feed", "limit=5", alice.headers, 404, "not_found")
        await answered_as_routed(feed, "cursor=bm90IGEgY3Vyc29y", alice.headers, 400, "validation_failed")
        await answered_as_routed(feed, f"order=latest&cursor={hot}", alice.headers, 400, "validation_failed")
        await answered_as_routed(feed, "since=5&cursor=WyJsYXRlc3QiXQ", alice.headers, 400, "validation_failed")
        locker = await asyncpg.connect(database_url)  # the database stops answering: DB_COMMAND_TIMEOUT, then 503
        try:
            async with locker.transaction():
                await locker.execute("LOCK TABLE posts IN ACCESS EXCLUSIVE MODE")
                await answered_as_routed(feed, "order=latest", alice.headers, 503, "not_ready")
        finally:
            await locker.close()


async def test_what_litestar_would_refuse_before_routing_goes_on_to_it(database_url, sandbox):
    settings = make_settings(database_url, wechat_api_base=sandbox.url, newcomer_hours=0)
    async with reused_app(settings) as app, serve(app) as base_url, http_client(base_url=base_url) as client:
        alice = await World(client, sandbox).member("alice")
        cid = await World(client, sandbox).community(alice)
        for path, query, headers in [
            (f"/v1/communities/{cid}/feed", "order=latest", {**alice.headers, "host": "example.com/evil"}),
            (f"/v1/communities/{cid}/feed", "limit=51", alice.headers),
            (f"/v1/communities/{cid}/feed", "order=best", alice.headers),
            (f"/v1/communities/{cid}/feed/", "", alice.headers),
            ("/v1/communities/9007199254740993/feed", "", alice.headers),
        ]:
            behind = _Litestar()
            assert (await _asgi_get(feed_lane(behind, app), app, path, query, headers))[0] == 599
            assert behind.passed == [f"{path}?{query}"]
        evil = {**alice.headers, "host": "example.com/evil"}
        assert (await client.get(f"/v1/communities/{cid}/feed", headers=evil)).status_code == 400
