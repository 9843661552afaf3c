"""The for-you feed over HTTP: a post on the reader's interest ranks above an equally hot one that is not, the
hot order without interests, keyset pages that never repeat or skip, blocked members' posts left out, members
only."""

from __future__ import annotations

import json

import msgspec

from service.feed import for_you as fy
from service.feed.models import FeedPage
from tests.interests.conftest import get, run
from tests.world import assert_problem


async def for_you(world, who, cid: str, **params) -> dict:
    response = await world.client.get(f"/v1/communities/{cid}/for-you", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    msgspec.json.decode(response.content, type=FeedPage)
    return response.json()


async def every_page(world, who, cid: str, limit: int) -> list[str]:
    ids, cursor = [], None
    while True:
        page = await for_you(world, who, cid, limit=limit, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= limit
        ids += [item["id"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            return ids


async def test_a_post_on_my_interest_ranks_above_an_equally_hot_one(world, jobs, db):
    alice, bob, carol, dan, erin = [await world.member(n) for n in ("alice", "bob", "carol", "dan", "erin")]
    cid = await world.community(alice, bob, carol, dan)
    await world.post(alice, cid, "今天跑步十公里，膝盖还好")
    await world.post(alice, cid, "跑步之后拉伸很重要")
    running = await world.post(bob, cid, "周六早上一起去跑步吗")
    fishing = await world.post(bob, cid, "周六早上一起去钓鱼吗")
    blocked = await world.post(carol, cid, "跑步鞋怎么选")
    # Equally hot: no reactions, the same moment. The hot order then puts the later id (fishing) first.
    await db.execute(
        "UPDATE posts SET created_at = (SELECT created_at FROM posts WHERE id = $1) WHERE id = ANY($2::bigint[])",
        int(running["id"]),
        [int(running["id"]), int(fishing["id"]), int(blocked["id"])],
    )
    assert (await world.client.post("/v1/me/blocks", json={"userId": str(carol.id)}, headers=alice.headers)).is_success
    await run(jobs, "interests.extract")
    assert "跑步" in [t["tag"] for t in (await get(world, alice, f"/v1/communities/{cid}/interests/mine"))["tags"]]

    hot = [item["id"] for item in (await world.feed(alice, cid, order="hot"))["items"]]
    assert hot.index(fishing["id"]) < hot.index(running["id"])
    mine = [item["id"] for item in (await for_you(world, alice, cid))["items"]]
    assert mine.index(running["id"]) < mine.index(fishing["id"])
    assert blocked["id"] not in mine  # blocked members' posts are left out, as in the feed
    assert set(mine) == set(hot) - {blocked["id"]}

    # Pages of one never repeat nor skip a post, and hold the same order.
    assert await every_page(world, alice, cid, 1) == mine
    assert await every_page(world, alice, cid, 2) == mine

    # Without interests: the hot order (dan wrote nothing, and sees carol's post).
    dans = [item["id"] for item in (await for_you(world, dan, cid))["items"]]
    assert dans == [item["id"] for item in (await world.feed(dan, cid, order="hot"))["items"]]
    # The author's own posts are never lifted by their own interests: bob sees his two in hot order.
    bobs = [item["id"] for item in (await for_you(world, bob, cid))["items"]]
    assert bobs.index(fishing["id"]) < bobs.index(running["id"])

    # Members only; a cursor of another list is refused.
    assert_problem(await world.client.get(f"/v1/communities/{cid}/for-you", headers=erin.headers), 403, "not_member")
    hot_cursor = (await world.feed(alice, cid, order="hot", limit=1))["nextCursor"]
    response = await world.client.get(
        f"/v1/communities/{cid}/for-you", params={"cursor": hot_cursor}, headers=alice.headers
    )
    assert_problem(response, 400, "validation_failed")


async def test_pages_read_from_the_hot_band_match_ranking_every_post(world, jobs, db):
    """The page is read from a band of the hot index (for_you.py): walking it page by page gives exactly the order
    of ranking every post of the community, with engagement spread over days and many posts on my interests."""
    alice, bob, carol = [await world.member(n) for n in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    await world.post(alice, cid, "跑步和咖啡是我每天的快乐")
    await world.post(alice, cid, "今天又去跑步了")
    texts = ["周末一起去跑步", "这家咖啡很好喝", "钓鱼的好去处", "爬山看日出", "跑步配咖啡"]
    rows = [
        (int(cid), (bob.id, carol.id)[i % 2], texts[i % 5] + f"（第{i}篇）", i * 37 % 90, i * 13 % 41)
        for i in range(120)
    ]
    await db.executemany(
        "INSERT INTO posts (community_id, author_id, text, like_count, created_at) "
        "VALUES ($1, $2, $3, $5, now() - make_interval(hours => $4))",
        rows,
    )
    await run(jobs, "interests.extract")
    everything = fy.FOR_YOU.replace("(SELECT floor FROM band)", "NULL::double precision")
    full = await db.fetchrow(everything, int(cid), alice.id, None, None, 1000)
    expected = [item["id"] for item in json.loads(full["items"])]
    assert len(expected) == await db.fetchval("SELECT count(*) FROM posts WHERE community_id = $1", int(cid))
    hot = [item["id"] for item in (await world.feed(alice, cid, order="hot", limit=50))["items"]]
    assert expected[:50] != hot  # interests changed the order
    for limit in (7, 20):
        assert await every_page(world, alice, cid, limit) == expected
