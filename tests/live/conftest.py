"""The live tests' world: the feed's (members signed in through the sandbox, a community, posts), and sockets
opened over real WebSocket connections with the member's bearer token."""

from __future__ import annotations

import asyncio
import json

import websockets
from websockets.asyncio.client import ClientConnection

from tests.feed import conftest as feed

db, jobs, settings, world = feed.db, feed.jobs, feed.settings, feed.world


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://", 1).rstrip("/") + "/v1/live"


def socket_of(world, who, base: str | None = None):
    """A live socket of ``who``, as wx.connectSocket opens it (Authorization header)."""
    return websockets.connect(ws_url(base or str(world.client.base_url)), additional_headers=who.headers)


async def next_event(socket: ClientConnection, kind: str, timeout: float = 5.0) -> dict:
    """The next message of this type (pings and others skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == kind:
                return message


async def collect(socket: ClientConnection, *kinds: str, timeout: float = 5.0) -> dict[str, dict]:
    """The first message of each of these types, in whatever order they come."""
    seen: dict[str, dict] = {}
    async with asyncio.timeout(timeout):
        while len(seen) < len(kinds):
            message = json.loads(await socket.recv())
            if message["type"] in kinds:
                seen.setdefault(message["type"], message)
    return seen


async def quiet(socket: ClientConnection, kind: str, seconds: float = 0.5) -> list[dict]:
    """The messages of this type that arrive within ``seconds``."""
    seen = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = json.loads(await socket.recv())
                if message["type"] == kind:
                    seen.append(message)
    except TimeoutError:
        return seen
