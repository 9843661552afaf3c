"""A socket that opens, or starts viewing a community, while its member leaves or joins: the hub reads the member's
memberships as the socket opens (and `view` checks the membership), and a departure or admission committed after
that read but heard before the socket follows what it read must still take effect at once (not at the next
memberships refresh, LIVE_PING_SECONDS later).

The hub runs here over a pool whose first read of one query waits after reading until the test lets it go: the
only way to put the departure between the read and the socket following what it read."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from service.core import live
from service.core.access import ACCESS
from service.db.pool import create_pool
from service.live import models as m
from service.live.hub import Hub, viewers
from service.live.queries import BLOCKED, MEMBERSHIPS
from service.live.routes import _answer


class _HeldRead:
    """A connection whose first read of the gate's query (fetchrow or fetch) returns only when `release` is set."""

    def __init__(self, conn, gate: _Gate) -> None:
        self._conn, self._gate = conn, gate

    def __getattr__(self, name):
        return getattr(self._conn, name)

    async def fetchrow(self, query, *args):
        return await self._held(query, await self._conn.fetchrow(query, *args))

    async def fetch(self, query, *args):
        return await self._held(query, await self._conn.fetch(query, *args))

    async def _held(self, query, answer):
        if query == self._gate.query and not self._gate.read.is_set():
            self._gate.read.set()
            await self._gate.release.wait()
        return answer


class _Gate:
    def __init__(self, pool, query: str) -> None:
        self.pool, self.query = pool, query
        self.read, self.release = asyncio.Event(), asyncio.Event()

    @asynccontextmanager
    async def acquire(self):
        async with self.pool.acquire() as conn:
            yield _HeldRead(conn, self)


@asynccontextmanager
async def _hub(settings, query: str = MEMBERSHIPS):
    pool = await create_pool(settings)
    gate = _Gate(pool, query)
    hub = Hub(gate, settings)  # type: ignore[arg-type]
    await hub.start()
    try:
        yield hub, gate
    finally:
        for socket in hub.all():
            hub.close(socket)
        await hub.stop()
        await pool.close()


async def _open_across(hub: Hub, gate: _Gate, user_id: int, change) -> set[str]:
    """What a socket of ``user_id`` follows when ``change`` commits between its membership read and its follow."""
    opening = asyncio.create_task(hub.open(object(), user_id))  # type: ignore[arg-type]
    await asyncio.wait_for(gate.read.wait(), 5)
    await change()
    await asyncio.sleep(0.3)  # the hub hears the word (milliseconds)
    gate.release.set()
    socket = await asyncio.wait_for(opening, 5)
    await asyncio.sleep(0.3)  # a re-read, if one was started
    return socket.targets


async def _remover(world, cid: str, owner, member):
    async def remove() -> None:
        removed = await world.client.delete(f"/v1/communities/{cid}/members/{member.id}", headers=owner.headers)
        assert removed.status_code == 204, removed.text

    return remove


async def test_a_member_removed_while_the_socket_opens_gets_no_posts_of_the_community(world, settings):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    async with _hub(settings) as (hub, gate):
        targets = await _open_across(hub, gate, bob.id, await _remover(world, cid, alice, bob))
    assert live.community(int(cid)) not in targets and live.user(bob.id) in targets


async def test_a_member_admitted_while_the_socket_opens_gets_the_communitys_posts(world, settings):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice)

    async def join() -> None:
        joined = await world.client.post(f"/v1/communities/{cid}/join", headers=bob.headers)
        assert joined.status_code == 201, joined.text

    async with _hub(settings) as (hub, gate):
        targets = await _open_across(hub, gate, bob.id, join)
    assert live.community(int(cid)) in targets


async def test_a_block_committed_while_the_socket_opens_takes_effect_at_once(world, settings):
    alice, bob = await world.member("alice"), await world.member("bob")

    async def block() -> None:
        blocked = await world.client.post("/v1/me/blocks", json={"userId": str(bob.id)}, headers=alice.headers)
        assert blocked.status_code == 200, blocked.text

    async with _hub(settings, BLOCKED) as (hub, gate):
        opening = asyncio.create_task(hub.open(object(), alice.id))  # type: ignore[arg-type]
        await asyncio.wait_for(gate.read.wait(), 5)  # read before the block: bob is not in it
        await block()
        await asyncio.sleep(0.3)
        gate.release.set()
        socket = await asyncio.wait_for(opening, 5)
        await asyncio.sleep(0.3)  # the re-read the word started
        assert socket.blocked == {bob.id}


async def test_a_member_removed_while_the_socket_starts_viewing_the_community_neither_views_nor_hears_it(
    world, settings
):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    async with _hub(settings, ACCESS) as (hub, gate):
        socket = await hub.open(object(), bob.id)  # type: ignore[arg-type]
        viewing = asyncio.create_task(_answer(hub, socket, m.LiveView(community_id=cid)))
        await asyncio.wait_for(gate.read.wait(), 5)  # the membership checked: bob still stands there
        await (await _remover(world, cid, alice, bob))()
        await asyncio.sleep(0.3)  # the hub hears the word
        gate.release.set()
        await asyncio.wait_for(viewing, 5)
        await asyncio.sleep(0.3)  # a re-read, if one was started
        targets, viewed = socket.targets, socket.viewing
    assert not {live.community(int(cid)), viewers(int(cid))} & targets and viewed is None
