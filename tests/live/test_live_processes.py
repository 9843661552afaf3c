"""Live updates across API processes (one database), presence beside heartbeats, slow and idle sockets."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import websockets

from benchmarks.processes import free_port
from service.db.pool import connect
from service.interactions import logic as metrics
from tests.feed.conftest import World
from tests.live.conftest import next_event, socket_of
from tests.support import api_client, http_client, make_settings


async def _granian_api(settings, port: int) -> asyncio.subprocess.Process:
    """A second API process (`python -m service serve`: granian, as in production) over the same database."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "WECHAT_API_BASE": settings.wechat_api_base,
        "PORT": str(port),
        "LOG_FORMAT": "json",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "serve", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    async with http_client() as client, asyncio.timeout(60):
        while True:
            assert process.returncode is None, "the second API process stopped"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return process
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)


async def test_a_post_through_one_process_reaches_a_socket_of_another_within_a_second(world, settings):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    port = free_port()
    other = await _granian_api(settings, port)
    try:
        async with socket_of(world, alice, f"http://127.0.0.1:{port}") as socket:
            await next_event(socket, "ready")
            for n in range(3):
                started = time.perf_counter()
                post = await world.post(bob, cid, f"另一个进程发的第{n}条")
                event = await next_event(socket, "post", timeout=1.0)
                assert event["postId"] == post["id"]
                assert time.perf_counter() - started < 1.0
            # Stopping that process with the socket open: the process exits cleanly; granian drops the socket
            # without a close frame (the client reconnects as after the background).
            other.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(15):
                    while True:
                        await socket.recv()
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is None or closed.rcvd.code in (1001, 1012)
            assert await asyncio.wait_for(other.wait(), 30) == 0
    finally:
        if other.returncode is None:
            other.send_signal(signal.SIGINT)
            await asyncio.wait_for(other.wait(), 30)


async def test_a_socket_counts_as_presence_once_beside_heartbeats(world, settings):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    view = json.dumps({"type": "view", "communityId": cid})
    async with socket_of(world, bob) as socket:
        await socket.send(view)
        assert (await next_event(socket, "online"))["count"] == 1
        # The same member's heartbeat (another page without the socket) extends the same session.
        beat = await world.client.post("/v1/presence/heartbeat", json={"communityId": cid}, headers=bob.headers)
        assert beat.status_code == 200, beat.text
        async with socket_of(world, alice) as hers:
            await hers.send(view)
            assert (await next_event(hers, "online"))["count"] == 2
            assert (await next_event(socket, "online"))["count"] == 2  # alice arrived
        await socket.send(json.dumps({"type": "view", "communityId": None}))
        await socket.send(json.dumps({"type": "ping"}))
        await next_event(socket, "pong")
    conn = await connect(settings.database_url)
    try:
        sessions = await conn.fetch("SELECT user_id FROM presence_sessions WHERE community_id = $1", int(cid))
        assert sorted(row["user_id"] for row in sessions) == [alice.id, bob.id]
        await metrics.rollup_incremental(conn, settings)
    finally:
        await conn.close()
    today = str(datetime.now(ZoneInfo(settings.metrics_timezone)).date())
    answer = await world.client.get(
        f"/v1/communities/{cid}/metrics", params={"from": today, "to": today}, headers=alice.headers
    )
    assert answer.status_code == 200, answer.text
    total = answer.json()["total"]
    assert (total["membersOnline"], total["peakConcurrentUsers"]) == (2, 2)


async def _raw_socket(base: httpx.URL, headers: dict[str, str]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket opened by hand on a small receive window, whose frames are read only when asked: a phone on
    a bad network."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((base.host, base.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    lines = [
        "GET /v1/live HTTP/1.1",
        f"Host: {base.host}:{base.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return reader, writer


async def _close_code(reader: asyncio.StreamReader) -> int:
    """Read (unmasked server) frames until the close frame; its code."""
    while True:
        head = await reader.readexactly(2)
        size = head[1] & 0x7F
        if size >= 126:
            size = int.from_bytes(await reader.readexactly(2 if size == 126 else 8), "big")
        payload = await reader.readexactly(size)
        if head[0] & 0x0F == 0x8:
            return int.from_bytes(payload[:2], "big")


async def test_a_slow_consumer_is_dropped_and_the_others_get_everything(settings, sandbox):
    # 18 MB of events: far past what the kernel buffers for a socket behind a 4 KB window (about 4 MB), while
    # a socket that reads never has more than one read's worth of them (about 40) queued.
    count = 3000
    small = make_settings(settings.database_url, wechat_api_base=sandbox.url, live_queue_size=200)
    async with api_client(small) as client:
        world = World(client, sandbox)
        slow, fast = await world.member("slow"), await world.member("fast")
        lazy, lazy_writer = await _raw_socket(client.base_url, slow.headers)
        async with socket_of(world, fast) as reader:
            await next_event(reader, "ready")
            conn = await connect(settings.database_url)
            try:  # a burst of big events for both (as many posts in a busy community would be)
                await conn.execute(
                    """SELECT pg_notify('live', json_build_object('to', json_build_array('u' || $1, 'u' || $2),
                           'event', json_build_object('type', 'post', 'n', n, 'pad', repeat('x', 6000)))::text)
                       FROM generate_series(1, $3) n""",
                    str(slow.id),
                    str(fast.id),
                    count,
                )
            finally:
                await conn.close()
            got = []
            async with asyncio.timeout(60):
                while len(got) < count:
                    message = json.loads(await reader.recv())
                    if message["type"] == "post":
                        got.append(message["n"])
            assert got == list(range(1, count + 1))
        # The one that read nothing was closed, after what the network had buffered for it.
        async with asyncio.timeout(30):
            assert await _close_code(lazy) == 4429
        lazy_writer.close()


async def test_a_silent_socket_is_pinged_then_closed(settings, sandbox):
    quick = make_settings(settings.database_url, wechat_api_base=sandbox.url, live_ping_seconds=0.3)
    async with api_client(quick) as client:
        world = World(client, sandbox)
        alice = await world.member("alice")
        async with socket_of(world, alice) as socket:
            await next_event(socket, "ping")
            await socket.send(json.dumps({"type": "pong"}))
            await next_event(socket, "ping")
            try:
                async with asyncio.timeout(5):
                    while True:
                        await socket.recv()
            except websockets.ConnectionClosed as closed:
                assert (closed.rcvd.code, closed.rcvd.reason) == (4408, "idle")
