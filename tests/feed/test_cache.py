"""The feed's page cache (service/feed/cache.py): a page as everyone sees it is kept for its TTL and finished
per reader with their standing, their likes and their own writes, which show at once; others' writes show
when the page expires. A TTL of a minute makes the staleness deterministic here."""

from __future__ import annotations

import asyncio

import pytest

from service.feed.cache import PageCache
from tests.support import make_settings
from tests.world import assert_problem


@pytest.fixture
def settings(database_url, sandbox):
    return make_settings(database_url, wechat_api_base=sandbox.url, newcomer_hours=0, feed_cache_seconds=60)


def ids(page: dict) -> list[str]:
    """The members' posts of a page (the welcome robot greets every newcomer too)."""
    return [item["id"] for item in page["items"] if item["robot"] is None]


async def test_a_cached_page_carries_each_readers_likes_and_standing(world):
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol)
    first, second = await world.post(alice, cid, "first post"), await world.post(alice, cid, "second post")
    assert ids(await world.feed(bob, cid)) == [second["id"], first["id"]]  # the page is cached now

    assert (await world.client.put(f"/v1/posts/{first['id']}/like", headers=carol.headers)).status_code == 200
    liked = {i["id"]: i["likedByMe"] for i in (await world.feed(carol, cid))["items"] if i["robot"] is None}
    assert liked == {second["id"]: False, first["id"]: True}
    assert not any(i["likedByMe"] for i in (await world.feed(bob, cid))["items"])

    assert_problem(await world.client.get(f"/v1/communities/{cid}/feed", headers=dave.headers), 403, "not_member")
    assert_problem(await world.client.get("/v1/communities/999999/feed", headers=dave.headers), 404, "not_found")
    removed = await world.client.delete(f"/v1/communities/{cid}/members/{carol.id}", headers=alice.headers)
    assert removed.status_code == 204, removed.text
    assert_problem(await world.client.get(f"/v1/communities/{cid}/feed", headers=carol.headers), 403, "not_member")


async def test_readers_see_their_own_writes_at_once_and_others_when_the_page_expires(world):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    old = await world.post(alice, cid, "an older post")
    assert ids(await world.feed(carol, cid)) == [old["id"]]

    new = await world.post(alice, cid, "a new post")
    assert ids(await world.feed(alice, cid)) == [new["id"], old["id"]]  # her own write: at once
    assert ids(await world.feed(carol, cid)) == [old["id"]]  # someone else's: when the page expires

    held = await world.post(bob, cid, "please sandbox-review this")
    assert held["status"] == "pending"
    assert ids(await world.feed(bob, cid)) == [held["id"], new["id"], old["id"]]  # only he sees it
    assert ids(await world.feed(carol, cid)) == [old["id"]]

    assert (await world.client.delete(f"/v1/posts/{new['id']}", headers=alice.headers)).status_code == 204
    assert ids(await world.feed(alice, cid)) == [old["id"]]


async def test_a_readers_own_deletion_of_an_older_post_shows_at_once(world, db):
    """Her own news was looked for among posts written within the edit window only: a post older than that, which
    she deleted (or an admin's deletion of another's post), stayed in her cached page until it expired."""
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    written = ((bob, "旧帖"), (carol, "别人的"), (bob, "留"))
    mine, others, kept = [await world.post(who, cid, text) for who, text in written]
    await db.execute("UPDATE posts SET created_at = created_at - interval '1 day'")  # past the edit window
    assert ids(await world.feed(bob, cid)) == [kept["id"], others["id"], mine["id"]]  # the page is cached now

    assert (await world.client.delete(f"/v1/posts/{mine['id']}", headers=bob.headers)).status_code == 204
    assert ids(await world.feed(bob, cid)) == [kept["id"], others["id"]]
    assert (await world.client.delete(f"/v1/posts/{others['id']}", headers=alice.headers)).status_code == 204
    assert ids(await world.feed(alice, cid)) == [kept["id"]]
    assert ids(await world.feed(carol, cid)) == [kept["id"], others["id"], mine["id"]]  # others: when it expires


async def test_readers_see_their_own_comments_at_once_and_others_when_the_page_expires(world):
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)
    post = await world.post(alice, cid, "周末去哪")

    async def seen_by(who) -> tuple[int, list[str]]:
        [item] = [i for i in (await world.feed(who, cid))["items"] if i["id"] == post["id"]]
        return item["commentCount"], [c["text"] for c in item["firstComments"]]

    assert await seen_by(carol) == (0, [])  # the page is cached now
    await world.comment(bob, post["id"], "公园")
    assert await seen_by(bob) == (1, ["公园"])  # his own comment: at once
    assert await seen_by(carol) == (0, [])  # someone else's: when the page expires
    await world.comment(carol, post["id"], "我也去", parent=None)
    assert await seen_by(carol) == (2, ["公园", "我也去"])  # hers at once, and the page built for her is current
    assert await seen_by(dave) == (0, [])  # who wrote nothing: the cached page until it expires


async def test_pages_through_the_cache_match_the_uncached_order(world, db):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    posts = [await world.post(alice, cid, f"post number {n}") for n in range(7)]
    await world.client.put(f"/v1/posts/{posts[2]['id']}/like", headers=bob.headers)
    for order in ("latest", "hot"):
        seen, cursor = [], None
        while True:
            page = await world.feed(bob, cid, order=order, limit=3, **({"cursor": cursor} if cursor else {}))
            seen += ids(page)
            if not (cursor := page["nextCursor"]):
                break
        by_time = "SELECT id FROM posts WHERE robot IS NULL ORDER BY created_at DESC, id DESC"
        by_rank = "SELECT id FROM posts WHERE robot IS NULL ORDER BY hot_rank DESC, id DESC"
        expected = [str(r["id"]) for r in await db.fetch(by_time if order == "latest" else by_rank)]
        assert seen == expected, order


async def test_the_cache_expires_is_bounded_and_loads_a_page_once():
    cache, loads = PageCache(ttl=0.05, size=2), []

    async def load(key):
        loads.append(key)
        await asyncio.sleep(0.01)
        return f"page {key} #{len(loads)}"

    same = await asyncio.gather(*(cache.page("a", lambda: load("a")) for _ in range(10)))
    assert set(same) == {"page a #1"} and loads == ["a"]  # ten readers, one query
    assert await cache.page("a", lambda: load("a")) == "page a #1"
    await asyncio.sleep(0.06)
    assert await cache.page("a", lambda: load("a")) == "page a #2"  # expired
    for key in ("b", "c"):
        await cache.page(key, lambda key=key: load(key))
    assert await cache.page("a", lambda: load("a")) == "page a #5"  # pushed out by b and c

    async def broken():
        raise RuntimeError("database away")

    with pytest.raises(RuntimeError):
        await cache.page("d", broken)
    assert await cache.page("d", lambda: load("d")) == "page d #6"  # a failed load is not kept

    slow = asyncio.create_task(cache.page("e", lambda: load("e")))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(cache.page("e", lambda: load("e")))
    await asyncio.sleep(0)
    slow.cancel()  # the reader loading the page went away: the one waiting loads it itself
    assert await waiting == "page e #8"
