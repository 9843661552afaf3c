"""Search in a community over HTTP (docs/search.md): Chinese words without spaces, ranked hits with highlighted
snippets, only what every member may see, members only, cursor pages; member search by nickname."""

from __future__ import annotations

import base64

import msgspec

from service.feed.models import SearchPage
from tests.feed.conftest import World
from tests.support import api_client, make_settings
from tests.world import assert_problem


async def search(world, who, cid: str, q: str, **params) -> dict:
    response = await world.client.get(f"/v1/communities/{cid}/search", params={"q": q, **params}, headers=who.headers)
    assert response.status_code == 200, response.text
    msgspec.json.decode(response.content, type=SearchPage)
    return response.json()


def marked(hit: dict) -> list[str]:
    """The highlighted parts of a hit's snippet, read as JavaScript would (UTF-16 offsets)."""
    units = hit["snippet"].encode("utf-16-le")
    return [units[2 * start : 2 * end].decode("utf-16-le") for start, end in hit["highlights"]]


async def test_chinese_words_are_found_without_spaces_and_highlighted(world):
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    run = await world.post(alice, cid, "今天早上去跑步了")
    await world.post(alice, cid, "周末一起去爬山吧")  # unrelated: 跑 and 步 nowhere
    await world.post(bob, cid, "步行去公司，跑了几步")  # 跑 and 步, but never 跑步
    comment = await world.comment(bob, run["id"], "😀明天也一起跑步吧 Running")

    found = await search(world, bob, cid, "跑步")
    hits = {(hit["kind"], hit["id"]): hit for hit in found["items"]}
    assert set(hits) == {("post", run["id"]), ("comment", comment["id"])}
    post_hit, comment_hit = hits[("post", run["id"])], hits[("comment", comment["id"])]
    assert post_hit["snippet"] == "今天早上去跑步了" and post_hit["highlights"] == [[5, 7]]
    assert post_hit["postId"] == run["id"] and post_hit["author"]["nickname"] == "alice"
    assert comment_hit["postId"] == run["id"] and marked(comment_hit) == ["跑步"]  # after an emoji: 2 UTF-16 units

    assert [h["id"] for h in (await search(world, bob, cid, "早上 跑步"))["items"]] == [run["id"]]  # every word
    assert [h["id"] for h in (await search(world, bob, cid, "去跑步了"))["items"]] == [run["id"]]  # as written
    assert (await search(world, bob, cid, "跑步早上"))["items"] == []
    assert [h["id"] for h in (await search(world, bob, cid, "早"))["items"]] == [run["id"]]  # one character
    latin = (await search(world, bob, cid, "RUNNIN"))["items"]  # a Latin word: any case, as a prefix
    assert [h["id"] for h in latin] == [comment["id"]] and marked(latin[0]) == ["Runnin"]
    assert (await search(world, bob, cid, "游泳"))["items"] == []


async def test_only_what_every_member_sees_is_found(world):
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol)
    shown = await world.post(alice, cid, "夜跑路线推荐")
    held = await world.post(bob, cid, "夜跑装备 sandbox-review")
    assert held["status"] == "pending"
    deleted = await world.post(bob, cid, "夜跑约吗")
    assert (await world.client.delete(f"/v1/posts/{deleted['id']}", headers=bob.headers)).status_code == 204
    on_deleted = await world.comment(carol, shown["id"], "夜跑要注意安全")
    held_comment = await world.comment(carol, shown["id"], "夜跑 sandbox-review")
    assert held_comment["status"] == "pending"
    assert (await world.client.delete(f"/v1/communities/{cid}/members/{carol.id}", headers=alice.headers)).is_success

    for reader in (alice, bob):  # not even their authors find held content
        found = {h["id"] for h in (await search(world, reader, cid, "夜跑"))["items"]}
        assert found == {shown["id"], on_deleted["id"]}, found  # carol's comment stays though she was removed

    url = f"/v1/communities/{cid}/search"
    assert_problem(await world.client.get(url, params={"q": "夜跑"}, headers=dave.headers), 403, "not_member")
    assert_problem(await world.client.get(url, params={"q": "夜跑"}, headers=carol.headers), 403, "not_member")
    assert_problem(
        await world.client.get("/v1/communities/999999/search", params={"q": "夜跑"}, headers=bob.headers),
        404,
        "not_found",
    )
    blank = assert_problem(
        await world.client.get(url, params={"q": "  ，！ "}, headers=bob.headers), 400, "search_query_blank"
    )
    assert blank["userMessage"] == "请输入要搜索的文字。"
    for bad in ({}, {"q": ""}, {"q": "跑" * 51}, {"q": "跑", "cursor": "bm90IGEgY3Vyc29y"}):
        assert_problem(await world.client.get(url, params=bad, headers=bob.headers), 400, "validation_failed")


async def test_a_removed_members_writing_is_found_as_the_feed_shows_it(world):
    """Removing a member ends their membership, not what they wrote: the feed, the post and its comments still show
    it (until a moderator removes it), so search finds it too; a hit always opens to something the reader sees, and
    what the reader sees can always be found."""
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(carol, cid, "夜跑打卡第一天")
    comment = await world.comment(carol, post["id"], "夜跑路线在江边")
    on_her_post = await world.comment(bob, post["id"], "夜跑带上我")
    assert (await world.client.delete(f"/v1/communities/{cid}/members/{carol.id}", headers=alice.headers)).is_success

    assert post["id"] in [item["id"] for item in (await world.feed(bob, cid))["items"]]
    shown = {c["id"] for c in (await world.comments(bob, post["id"]))["items"]}
    assert shown == {comment["id"], on_her_post["id"]}
    found = {(hit["kind"], hit["id"]) for hit in (await search(world, bob, cid, "夜跑"))["items"]}
    assert found == {("post", post["id"]), ("comment", comment["id"]), ("comment", on_her_post["id"])}


async def test_hits_are_ranked_and_paged_by_cursor_without_repeats(world):
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    strong = await world.post(alice, cid, "跑步跑步跑步，天天跑步")
    posts = [await world.post(alice, cid, f"第{i}次跑步，很长的一段话" * 3) for i in range(5)]
    first = await search(world, bob, cid, "跑步", limit=2)
    assert first["items"][0]["id"] == strong["id"] and first["nextCursor"]
    seen = [hit["id"] for hit in first["items"]]
    cursor = first["nextCursor"]
    while cursor:
        page = await search(world, bob, cid, "跑步", limit=2, cursor=cursor)
        seen += [hit["id"] for hit in page["items"]]
        cursor = page["nextCursor"]
    assert sorted(seen) == sorted([strong["id"], *(p["id"] for p in posts)])


async def test_a_forged_search_cursor_is_a_page_or_a_400_never_a_500(world):
    alice = await world.member("alice")
    cid = await world.community(alice)
    post = await world.post(alice, cid, "周六一起跑步")

    def forged(rank: str) -> str:
        return base64.urlsafe_b64encode(f'[{rank}, "post", {int(post["id"]) + 1}]'.encode()).rstrip(b"=").decode()

    # Past float4's range (ts_rank's type; it reached PostgreSQL as a real and failed): every hit ranks below it.
    page = await search(world, alice, cid, "跑步", cursor=forged("1e39"))
    assert [hit["id"] for hit in page["items"]] == [post["id"]]
    nul = base64.urlsafe_b64encode(f'[0.5, "post\\u0000", {post["id"]}]'.encode()).rstrip(b"=").decode()
    for cursor in (forged("1e999"), forged("-1e999"), nul):  # infinities, a NUL PostgreSQL's text cannot hold
        response = await world.client.get(
            f"/v1/communities/{cid}/search", params={"q": "跑步", "cursor": cursor}, headers=alice.headers
        )
        assert_problem(response, 400, "validation_failed")


async def test_searches_past_the_limit_are_refused_across_instances_and_others_still_search(database_url, sandbox):
    """SEARCH_PER_MINUTE per member, counted in the shared rate_limits table: two API instances count together."""
    limited = make_settings(database_url, wechat_api_base=sandbox.url, newcomer_hours=0, search_per_minute=3)
    async with api_client(limited) as first, api_client(limited) as second:
        one, two = World(first, sandbox), World(second, sandbox)
        alice, bob = [await one.member(name) for name in ("alice", "bob")]
        cid = await one.community(alice, bob)
        await one.post(alice, cid, "周六一起跑步")
        for world in (one, two, one):
            assert len((await search(world, bob, cid, "跑步"))["items"]) == 1
        refused = await second.get(f"/v1/communities/{cid}/search", params={"q": "跑步"}, headers=bob.headers)
        body = assert_problem(refused, 429, "rate_limited")
        assert body["userMessage"] == "操作太频繁了，请稍后再试。"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # The limit is the member's own: alice searches as before.
        assert len((await search(two, alice, cid, "跑步"))["items"]) == 1


async def test_member_search_by_nickname(world):
    alice, bob, bobby, carol = [await world.member(name) for name in ("alice", "bob", "bobby", "carol")]
    cid = await world.community(alice, bob, bobby)
    url = f"/v1/communities/{cid}/members"
    found = await world.client.get(url, params={"q": "BOB"}, headers=alice.headers)
    assert found.status_code == 200, found.text
    assert [m["nickname"] for m in found.json()["items"]] == ["bob", "bobby"]
    assert (await world.client.get(url, params={"q": "zed"}, headers=alice.headers)).json()["items"] == []
    page = (await world.client.get(url, params={"q": "bob", "limit": 1}, headers=alice.headers)).json()
    rest = await world.client.get(url, params={"q": "bob", "cursor": page["nextCursor"]}, headers=alice.headers)
    assert [m["nickname"] for m in page["items"] + rest.json()["items"]] == ["bob", "bobby"]
    assert_problem(await world.client.get(url, params={"q": "bob"}, headers=carol.headers), 403, "not_member")
    assert_problem(await world.client.get(url, params={"q": ""}, headers=alice.headers), 400, "validation_failed")


async def test_the_snippet_shows_the_word_that_matched_not_a_substring_of_another(world):
    """A Latin word matches at the start of a word (`run`: "Running", not "Bruno"), and so does the snippet, the
    text around the first match, and its highlight."""
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    text = "Bruno 说：" + "今天天气很好大家出来玩吧" * 8 + " Running 五公里"
    post = await world.post(alice, cid, text)
    [hit] = [h for h in (await search(world, bob, cid, "run"))["items"] if h["id"] == post["id"]]
    assert "Running" in hit["snippet"], hit["snippet"]
    assert marked(hit) == ["Run"]


async def test_a_reply_goes_out_of_search_with_its_thread(world, db):
    """The replies of a thread deleted, hidden or removed leave the post's comments with it (reading.py), so search
    does not find them either: a hit must open to something the reader can see."""
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    post = await world.post(alice, cid, "周末去哪里玩")
    threads = [await world.comment(bob, post["id"], f"第{n}个建议") for n in range(4)]
    replies = [await world.comment(carol, post["id"], "马拉松比赛", parent=thread["id"]) for thread in threads]

    def found(page: dict) -> set[str]:
        return {hit["id"] for hit in page["items"]}

    assert found(await search(world, alice, cid, "马拉松")) == {r["id"] for r in replies}
    deleted, hidden, removed, shown = threads
    assert (await world.client.delete(f"/v1/comments/{deleted['id']}", headers=bob.headers)).status_code == 204
    await db.execute("UPDATE comments SET status = 'pending' WHERE id = $1", int(hidden["id"]))  # hidden by reports
    await db.execute("UPDATE comments SET status = 'rejected' WHERE id = $1", int(removed["id"]))  # by a moderator
    # In the post's comments those replies are gone with their threads ...
    assert [t["id"] for t in (await world.comments(alice, post["id"]))["items"]] == [shown["id"]]
    # ... and search finds only the reply of the thread still shown.
    assert found(await search(world, alice, cid, "马拉松")) == {replies[3]["id"]}


async def test_a_reply_in_the_thread_of_a_member_i_blocked_is_not_found(world):
    """A blocked member's thread leaves my comment lists, and its replies with it (reading.py): search must not find
    those replies either, since the hit would open to a post where I cannot see them."""
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)
    post = await world.post(carol, cid, "周末去哪里玩")
    blocked_thread = await world.comment(bob, post["id"], "去爬山")
    other_thread = await world.comment(carol, post["id"], "去海边")
    hidden = await world.comment(dave, post["id"], "马拉松比赛更好", parent=blocked_thread["id"])
    shown = await world.comment(dave, post["id"], "马拉松比赛也行", parent=other_thread["id"])
    blocked = await world.client.post("/v1/me/blocks", json={"userId": str(bob.id)}, headers=alice.headers)
    assert blocked.status_code == 200, blocked.text

    assert [t["id"] for t in (await world.comments(alice, post["id"]))["items"]] == [other_thread["id"]]
    assert {hit["id"] for hit in (await search(world, alice, cid, "马拉松"))["items"]} == {shown["id"]}
    # Others still find both.
    assert {hit["id"] for hit in (await search(world, carol, cid, "马拉松"))["items"]} == {hidden["id"], shown["id"]}


async def test_full_width_letters_and_digits_are_the_ascii_ones(world):
    """A Chinese keyboard in full-width mode types ｉＰｈｏｎｅ１５: written or searched that way, it is iPhone 15
    (as the keyword robot reads it, docs/feed.md), not a query with nothing to search for."""
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    full = await world.post(alice, cid, "新款ｉＰｈｏｎｅ\u3000１５到货了")  # an ideographic space between
    half = await world.post(bob, cid, "iPhone 15 的手机壳")
    for q in ("iphone", "ｉＰｈｏｎｅ", "IPHONE １５", "15"):
        hits = {hit["id"]: hit for hit in (await search(world, bob, cid, q))["items"]}
        assert set(hits) == {full["id"], half["id"]}, q
    [hit] = [h for h in (await search(world, bob, cid, "ｉｐｈｏｎｅ\u3000１５"))["items"] if h["id"] == full["id"]]
    assert marked(hit) == ["ｉＰｈｏｎｅ", "１５"]  # marked in the text as written


async def test_han_beyond_the_basic_block_and_bopomofo_are_words_to_search(world):
    """々, 〇, the ideographs of the supplementary planes (𠮷, Extension B) and Bopomofo are Chinese text too: a post
    holding them is found by them, and a query of nothing else is no blank one."""
    alice, bob = [await world.member(name) for name in ("alice", "bob")]
    cid = await world.community(alice, bob)
    lunch = await world.post(alice, cid, "中午去𠮷野家吃饭")
    group = await world.post(bob, cid, "欢迎加入〇〇群，二〇二六年天天打卡")
    zhuyin = await world.post(bob, cid, "ㄅㄆㄇ注音练习，人々")
    await world.post(alice, cid, "野家常菜，加入跑步群")  # 野家 and 群, never 𠮷野家 or 〇〇群

    def found(page: dict) -> list[str]:
        return [hit["id"] for hit in page["items"]]

    [hit] = (await search(world, bob, cid, "𠮷野家"))["items"]
    assert hit["id"] == lunch["id"] and marked(hit) == ["𠮷野家"]  # 𠮷 is 2 UTF-16 units
    assert found(await search(world, bob, cid, "〇〇群")) == [group["id"]]
    only = {"𠮷": lunch, "〇〇": group, "二〇二六": group, "ㄅㄆ": zhuyin, "々": zhuyin}  # only such characters
    for q, post in only.items():
        assert found(await search(world, bob, cid, q)) == [post["id"]], q
