"""Blocks on live sockets: a member I blocked is no news to me. Their posts and comments send my sockets no `post`
or `comment` event (the event names them: `authorId`), whether I blocked them before the socket opened or while it
is open; unblocking brings their events back at once; everyone else still hears of them."""

from __future__ import annotations

from tests.live.conftest import next_event, quiet, socket_of


async def _block(world, who, whom) -> None:
    response = await world.client.post("/v1/me/blocks", json={"userId": str(whom.id)}, headers=who.headers)
    assert response.status_code == 200, response.text


async def _unblock(world, who, whom) -> None:
    response = await world.client.delete(f"/v1/me/blocks/{whom.id}", headers=who.headers)
    assert response.status_code == 204, response.text


async def test_a_member_blocked_before_the_socket_opened_sends_it_no_posts_or_comments(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    carols = await world.post(carol, cid, "周末去爬山")
    await world.comment(alice, carols["id"], "我也去")  # alice follows the post's comments
    await _block(world, alice, bob)
    async with socket_of(world, alice) as mine, socket_of(world, carol) as hers:
        await next_event(mine, "ready")
        await next_event(hers, "ready")
        bobs = await world.post(bob, cid, "加我好友")
        assert (await next_event(hers, "post"))["postId"] == bobs["id"]  # carol still hears of it
        said = await world.comment(bob, carols["id"], "算我一个")
        assert (await next_event(hers, "comment"))["commentId"] == said["id"]
        assert await quiet(mine, "post") == []
        assert await quiet(mine, "comment") == []
        # The others' writing still reaches alice.
        later = await world.post(carol, cid, "几点集合？")
        assert (await next_event(mine, "post"))["postId"] == later["id"]


async def test_blocking_and_unblocking_take_effect_on_an_open_socket_at_once(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    carols = await world.post(carol, cid, "周末去爬山")
    await world.comment(alice, carols["id"], "我也去")
    async with socket_of(world, alice) as mine:
        await next_event(mine, "ready")
        before = await world.post(bob, cid, "拉黑之前")
        assert (await next_event(mine, "post"))["postId"] == before["id"]

        await _block(world, alice, bob)
        await world.post(bob, cid, "拉黑之后")
        await world.comment(bob, carols["id"], "拉黑之后的评论")
        assert await quiet(mine, "post", 1.0) == []
        assert await quiet(mine, "comment") == []

        await _unblock(world, alice, bob)
        after = await world.post(bob, cid, "解除之后")
        assert (await next_event(mine, "post"))["postId"] == after["id"]
        said = await world.comment(bob, carols["id"], "解除之后的评论")
        assert (await next_event(mine, "comment"))["commentId"] == said["id"]
