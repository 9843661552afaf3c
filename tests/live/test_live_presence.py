"""Presence from sockets ends with the membership: a member removed while viewing a community no longer counts as
online there at once (not when the presence gap has passed), and a view that a removal overtook records no presence
at all (the online count and the metrics, docs/metrics.md, count members only)."""

from __future__ import annotations

import asyncio
import json

from tests.live.conftest import next_event, socket_of

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('presence:' || $1 || ':' || $2, 0))"


async def _view(socket, cid: str) -> dict:
    await next_event(socket, "ready")
    await socket.send(json.dumps({"type": "view", "communityId": cid}))
    return await next_event(socket, "online")


async def _sessions(db, user_id: int, cid: str) -> list:
    return await db.fetch("SELECT * FROM presence_sessions WHERE user_id = $1 AND community_id = $2", user_id, int(cid))


async def test_a_member_removed_while_viewing_is_no_longer_online_there_at_once(world):
    alice, bob, carol = [await world.member(n) for n in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    async with socket_of(world, bob) as his:
        assert (await _view(his, cid))["count"] == 1
        removed = await world.client.delete(f"/v1/communities/{cid}/members/{bob.id}", headers=alice.headers)
        assert removed.status_code == 204, removed.text
        async with socket_of(world, carol) as hers:
            assert (await _view(hers, cid))["count"] == 1  # carol alone, within the 90 s gap of bob's last view


async def test_a_member_who_leaves_while_viewing_is_no_longer_online_there_and_a_return_starts_anew(world, db):
    alice, bob, carol = [await world.member(n) for n in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    async with socket_of(world, bob) as his:
        await _view(his, cid)
        left = await world.client.delete(f"/v1/communities/{cid}/members/me", headers=bob.headers)
        assert left.status_code == 204, left.text
        async with socket_of(world, carol) as hers:
            assert (await _view(hers, cid))["count"] == 1
    # Back within the gap: a new session, not the old one stretched over the time bob was out.
    joined = await world.client.post(f"/v1/communities/{cid}/join", headers=bob.headers)
    assert joined.status_code == 201, joined.text
    beat = await world.client.post("/v1/presence/heartbeat", json={"communityId": cid}, headers=bob.headers)
    assert beat.status_code == 200, beat.text
    assert len(await _sessions(db, bob.id, cid)) == 2


async def test_a_view_that_a_removal_overtook_records_no_presence(world, db):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    async with socket_of(world, bob) as his:
        await next_event(his, "ready")
        async with db.transaction():
            # Hold bob's presence in the community: his view passes the membership check and waits here.
            await db.execute(_LOCK, str(bob.id), cid)
            await his.send(json.dumps({"type": "view", "communityId": cid}))
            await asyncio.sleep(0.5)
            await db.execute(
                "UPDATE memberships SET status = 'removed', left_at = now() WHERE community_id = $1 AND user_id = $2",
                int(cid),
                bob.id,
            )
        await asyncio.sleep(0.5)  # the view goes on once the removal committed
    assert await _sessions(db, bob.id, cid) == []
    beat = await world.client.post("/v1/presence/heartbeat", json={"communityId": cid}, headers=bob.headers)
    assert beat.status_code == 403 and beat.json()["code"] == "not_member"
    assert await _sessions(db, bob.id, cid) == []


async def test_a_socket_that_stops_viewing_where_its_member_no_longer_stands_extends_nothing(world, db):
    """Presence is a member's only, also for an open session the departure's word has not ended (the membership
    changed under it, as a removal's overtaking view above): the touch of the socket's closing extends nothing."""
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    async with socket_of(world, bob) as his:
        await _view(his, cid)
        [before] = await _sessions(db, bob.id, cid)
        await db.execute(
            "UPDATE memberships SET status = 'removed', left_at = now() WHERE community_id = $1 AND user_id = $2",
            int(cid),
            bob.id,
        )
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # the socket's close touches its presence
    [after] = await _sessions(db, bob.id, cid)
    assert after["last_seen_at"] == before["last_seen_at"] and not after["ended"]
