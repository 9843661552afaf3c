"""A member who leaves or is removed from a community stops getting its events on a socket already open: its posts
at once, comments on its posts, and the online counts of the community the socket viewed; one who joins gets its
posts at once. An erased account's sockets close at once."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

import websockets

from service.auth.deletion import erase_due
from tests.feed.conftest import World
from tests.live.conftest import next_event, quiet, socket_of
from tests.support import api_client, make_settings


@asynccontextmanager
async def _quick_world(settings, sandbox):
    """A world whose hubs ping, and so re-read memberships, every 0.3 s."""
    quick = make_settings(settings.database_url, wechat_api_base=sandbox.url, live_ping_seconds=0.3)
    async with api_client(quick) as client:
        yield World(client, sandbox)


async def _view(socket, cid: str) -> dict:
    """Views the community on a socket just opened; its first online count."""
    await next_event(socket, "ready")
    await socket.send(json.dumps({"type": "view", "communityId": cid}))
    return await next_event(socket, "online")


async def _answering_pings(socket, kind: str, seconds: float) -> list[dict]:
    """Messages of this type within ``seconds``, answering pings like the documented client."""
    seen = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = json.loads(await socket.recv())
                if message["type"] == "ping":
                    await socket.send(json.dumps({"type": "pong"}))
                elif message["type"] == kind:
                    seen.append(message)
    except TimeoutError:
        return seen


async def test_a_removed_member_gets_no_more_posts_of_the_community_at_once(world):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    other = await world.community(alice, bob)
    async with socket_of(world, bob) as socket:
        await next_event(socket, "ready")
        removed = await world.client.delete(f"/v1/communities/{cid}/members/{bob.id}", headers=alice.headers)
        assert removed.status_code == 204, removed.text
        await world.post(alice, cid, "只给成员看的")
        assert await quiet(socket, "post", 1.0) == []
        # The communities bob is still in go on.
        kept = await world.post(alice, other, "另一个社区")
        assert (await next_event(socket, "post"))["postId"] == kept["id"]


async def test_a_member_who_leaves_gets_no_more_posts_of_the_community_at_once(world):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    async with socket_of(world, bob) as socket, socket_of(world, alice) as hers:
        await next_event(socket, "ready")
        await next_event(hers, "ready")
        left = await world.client.delete(f"/v1/communities/{cid}/members/me", headers=bob.headers)
        assert left.status_code == 204, left.text
        post = await world.post(alice, cid, "走了以后发的")
        assert (await next_event(hers, "post"))["postId"] == post["id"]  # the members still hear of it
        assert await quiet(socket, "post", 1.0) == []


async def test_a_member_who_joins_gets_the_communitys_posts_on_an_open_socket_at_once(world):
    """Joining takes effect on a socket already open as leaving does: the admission's transaction sends word to the
    hubs, so the next post arrives at once, not at the next memberships refresh (LIVE_PING_SECONDS, 25 s)."""
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice)
    approval = await world.community(alice, entryMode="approval")
    async with socket_of(world, bob) as socket:
        await next_event(socket, "ready")
        joined = await world.client.post(f"/v1/communities/{cid}/join", headers=bob.headers)
        assert joined.status_code == 201, joined.text
        post = await world.post(alice, cid, "欢迎新朋友")
        assert (await next_event(socket, "post", timeout=2.0))["postId"] == post["id"]

        # Admitted in another member's transaction: the admin's approval.
        asked = await world.client.post(f"/v1/communities/{approval}/join", headers=bob.headers)
        assert asked.status_code == 202, asked.text
        url = f"/v1/communities/{approval}/join-requests/{asked.json()['request']['id']}/approve"
        assert (await world.client.post(url, headers=alice.headers)).status_code == 200
        post = await world.post(alice, approval, "审核通过了")
        assert (await next_event(socket, "post", timeout=2.0))["postId"] == post["id"]


async def test_a_removed_member_gets_no_comment_events_of_the_community(world):
    alice, bob, carol = [await world.member(n) for n in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid, "周六晨跑")
    await world.comment(bob, post["id"], "我也去")  # bob now follows the post's comments
    async with socket_of(world, bob) as socket, socket_of(world, alice) as hers:
        await next_event(socket, "ready")
        await next_event(hers, "ready")
        removed = await world.client.delete(f"/v1/communities/{cid}/members/{bob.id}", headers=alice.headers)
        assert removed.status_code == 204, removed.text
        comment = await world.comment(carol, post["id"], "几点集合？")
        assert (await next_event(hers, "comment"))["commentId"] == comment["id"]  # the author still follows
        assert await quiet(socket, "comment", 1.0) == []


async def test_a_removed_member_gets_no_more_online_counts_of_the_community_viewed_at_once(world):
    alice, bob, carol = [await world.member(n) for n in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    async with socket_of(world, bob) as socket:
        await _view(socket, cid)
        removed = await world.client.delete(f"/v1/communities/{cid}/members/{bob.id}", headers=alice.headers)
        assert removed.status_code == 204, removed.text
        await asyncio.sleep(0.2)  # the hub re-reads bob's memberships as it hears of the removal
        async with socket_of(world, carol) as hers:
            await _view(hers, cid)
            assert await quiet(socket, "online", 1.0) == []


async def test_the_memberships_refresh_stops_the_online_counts_of_a_community_no_longer_stood_in(settings, sandbox, db):
    async with _quick_world(settings, sandbox) as world:
        alice, bob, carol = [await world.member(n) for n in ("alice", "bob", "carol")]
        cid = await world.community(alice, bob, carol)
        async with socket_of(world, bob) as socket:
            await _view(socket, cid)
            # A membership ended with no word to the hubs: only the refresh every ping interval notices.
            await db.execute(
                "UPDATE memberships SET status = 'removed', left_at = now() WHERE community_id = $1 AND user_id = $2",
                int(cid),
                bob.id,
            )
            await _answering_pings(socket, "online", 1.5)  # several ticks: memberships re-read
            async with socket_of(world, carol) as hers:
                assert (await _view(hers, cid))["count"] >= 1  # a member who views still counts
                assert await _answering_pings(socket, "online", 1.0) == []


async def test_the_brands_team_viewing_a_community_it_is_no_member_of_keeps_its_counts_and_posts(settings, sandbox, db):
    async with _quick_world(settings, sandbox) as world:
        alice, carol, dave = [await world.member(n) for n in ("alice", "carol", "dave")]
        cid = await world.community(alice, carol)
        brand = await db.fetchval("INSERT INTO brands (owner_id, name) VALUES ($1, '跑团') RETURNING id", alice.id)
        await db.execute("INSERT INTO brand_admins (brand_id, user_id, role) VALUES ($1, $2, 'admin')", brand, dave.id)
        await db.execute("UPDATE communities SET brand_id = $1 WHERE id = $2", brand, int(cid))
        async with socket_of(world, dave) as socket:  # dave stands there as an admin, without a membership
            await _view(socket, cid)
            await _answering_pings(socket, "online", 1.5)  # several ticks: memberships re-read
            async with socket_of(world, carol) as hers:
                await _view(hers, cid)
                assert await _answering_pings(socket, "online", 1.0) != []
                post = await world.post(alice, cid, "品牌社区的新帖")
                assert (await next_event(socket, "post"))["postId"] == post["id"]


async def test_one_removed_from_the_brands_team_gets_no_more_posts_of_the_community_viewed(world, db):
    alice, carol, dave = [await world.member(n) for n in ("alice", "carol", "dave")]
    cid = await world.community(alice, carol)
    created = await world.client.post("/v1/brands", json={"name": "山野跑团"}, headers=alice.headers)
    brand = created.json()["id"]
    await db.execute("INSERT INTO brand_admins (brand_id, user_id, role) VALUES ($1, $2, 'admin')", int(brand), dave.id)
    await db.execute("UPDATE communities SET brand_id = $1 WHERE id = $2", int(brand), int(cid))
    async with socket_of(world, dave) as socket:  # dave views it as the brand's admin, without a membership
        await _view(socket, cid)
        removed = await world.client.delete(f"/v1/brands/{brand}/admins/{dave.id}", headers=alice.headers)
        assert removed.status_code == 204, removed.text
        await world.post(alice, cid, "团队之外的人不该再看到")
        assert await quiet(socket, "post", 1.0) == []  # not after the memberships refresh (25 s): at once


async def test_an_erased_accounts_socket_closes_at_once_as_if_its_token_expired(world, jobs, db):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    async with socket_of(world, carol) as socket, socket_of(world, bob) as his:
        await next_event(socket, "ready")
        await next_event(his, "ready")
        assert (await world.client.delete("/v1/me", headers=carol.headers)).status_code == 202
        await db.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", carol.id)
        assert await erase_due(jobs.pool) == 1
        heard = []
        try:
            async with asyncio.timeout(5):  # the API process hears the erasure within milliseconds
                while True:
                    heard.append(json.loads(await socket.recv())["type"])
        except websockets.ConnectionClosed as closed:
            assert (closed.rcvd.code, closed.rcvd.reason) == (4401, "token_expired")
        assert "post" not in heard
        await world.post(bob, cid, "删号之后发的帖子")
        await next_event(his, "post")  # the others' sockets stay
