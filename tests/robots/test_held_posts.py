"""The keyword robot on a post WeChat's photo check held: it answers when the verdict pushed by the sandbox
releases the post, and only an author who is still a member then (the whole stack over loopback HTTP)."""

from __future__ import annotations

from tests.media.conftest import media_world, phone_photo


async def test_a_released_post_gets_no_robot_answer_once_its_author_left_or_was_removed(database_url, pay_keys):
    """Between the post and WeChat's verdict bob left and carol was removed: their posts are released without a
    public answer to someone no longer there. Dave was muted meanwhile (he may not write, docs/feed.md; what he
    wrote before stays shown) and erin is still a plain member: both are answered."""
    async with media_world(database_url, pay_keys) as world:
        call = world.seeder.call
        alice, bob, carol, dave, erin = [await world.user(name) for name in ("alice", "bob", "carol", "dave", "erin")]
        community = await world.seeder.community(alice, bob, carol, dave, erin)
        rule = {"keyword": "价格", "matchMode": "contains", "reply": "价格请看小程序首页"}
        await call("POST", f"/v1/communities/{community}/robot-rules", alice, json=rule)
        await world.sandbox("POST", "/hold", json={"hold": True})
        posts = {}
        for shade, who in enumerate((bob, carol, dave, erin)):
            photo = await world.uploaded(who, phone_photo(color=(shade * 40, 90, 200)))
            body = {"text": "这个多少价格？", "imageIds": [photo["id"]]}
            posts[who.name] = await call("POST", f"/v1/communities/{community}/posts", who, json=body)
            assert posts[who.name]["status"] == "pending"

        members = f"/v1/communities/{community}/members"
        await call("DELETE", f"{members}/me", bob, (204,))
        await call("DELETE", f"{members}/{carol.id}", alice, (204,))
        await call("PUT", f"{members}/{dave.id}", alice, json={"muteMinutes": 60})
        await world.run_jobs()
        await world.sandbox("POST", "/release", json={})

        pool = world.seeder.pool
        for name, post in posts.items():  # every photo passed: each post is shown, as WeChat's verdict says
            assert await pool.fetchval("SELECT status FROM posts WHERE id = $1", int(post["id"])) == "visible", name
        answered = await pool.fetch("SELECT post_id FROM robot_replies WHERE community_id = $1", int(community))
        assert sorted(str(row["post_id"]) for row in answered) == sorted([posts["dave"]["id"], posts["erin"]["id"]])
        for name, robot in (("bob", []), ("dave", ["keyword"]), ("erin", ["keyword"])):
            comments = await call("GET", f"/v1/posts/{posts[name]['id']}/comments", alice)
            assert [c["robot"] for c in comments["items"]] == robot, name
