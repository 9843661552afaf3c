"""Photos WeChat's image check held for `review`, released by an admin (the whole stack over loopback HTTP: the
sandbox pushes its verdicts to the API)."""

from __future__ import annotations

import asyncio

from tests.media.conftest import media_world, phone_photo, sha256


async def test_a_post_waiting_for_a_photo_an_admin_approved_meanwhile_is_shown(database_url, pay_keys):
    """An admin's approval approves the held photo itself (docs/moderation.md): a post that was waiting for that
    photo, and not in the queue yet, is shown like one waiting for WeChat's `pass`. It stayed pending for good: the
    queue no longer took it (its photo was no longer held) and no verdict would ever come for it."""
    async with media_world(database_url, pay_keys) as world:
        call = world.seeder.call
        alice, bob, carol = [await world.user(name) for name in ("alice", "bob", "carol")]
        community = await world.seeder.community(alice, bob, carol)
        await world.sandbox("POST", "/hold", json={"hold": True})
        photo = await world.uploaded(bob, phone_photo(color=(30, 160, 90)))
        await world.run_jobs()
        served = (await world.fetch(photo["url"])).content
        await world.sandbox("POST", "/rules", json={"sha256": sha256(served), "suggest": "review"})
        await world.sandbox("POST", "/release", json={})
        first = await call("POST", f"/v1/communities/{community}/posts", bob, json={"imageIds": [photo["id"]]})
        assert first["status"] == "pending"
        queue = f"/v1/communities/{community}/moderation"
        [case] = (await call("GET", queue, alice))["items"]
        assert case["review"] is True and case["targetId"] == first["id"]

        # The same photo again, after the admins read their queue and before they decided.
        body = {"text": "再发一次", "imageIds": [photo["id"]]}
        second = await call("POST", f"/v1/communities/{community}/posts", bob, json=body)
        assert second["status"] == "pending"
        await call("POST", f"/v1/moderation/cases/{case['id']}/decision", alice, json={"action": "approve"})

        shown = [item["id"] for item in (await call("GET", f"/v1/communities/{community}/feed", carol))["items"]]
        assert first["id"] in shown
        waiting = [c["targetId"] for c in (await call("GET", queue, alice))["items"]]
        assert second["id"] in shown or second["id"] in waiting, "the second post waits for nothing that will come"
        assert second["id"] in shown  # the photo is approved: shown as a post with it would be now


async def test_two_admins_approving_two_posts_of_one_held_photo_at_once_both_succeed(database_url, pay_keys):
    """Each approval approves the photo and shows what else waits for it: the two decisions meet on the photo and
    on each other's post, and must not deadlock (one of them a 500)."""
    async with media_world(database_url, pay_keys, newcomer_hours=0) as world:
        call = world.seeder.call
        alice, bob, carol = [await world.user(name) for name in ("alice", "bob", "carol")]
        community = await world.seeder.community(alice, bob, carol)
        await call("PUT", f"/v1/communities/{community}/members/{carol.id}", alice, json={"role": "admin"})
        queue = f"/v1/communities/{community}/moderation"
        for shade in range(6):
            await world.sandbox("POST", "/hold", json={"hold": True})
            photo = await world.uploaded(bob, phone_photo(color=(30, 160, shade * 40)))
            await world.run_jobs()
            served = (await world.fetch(photo["url"])).content
            await world.sandbox("POST", "/rules", json={"sha256": sha256(served), "suggest": "review"})
            await world.sandbox("POST", "/release", json={})
            posts = [
                await call("POST", f"/v1/communities/{community}/posts", bob, json={"imageIds": [photo["id"]]})
                for _ in range(2)
            ]
            cases = {c["targetId"]: c["id"] for c in (await call("GET", queue, alice))["items"]}
            decided = await asyncio.gather(
                *(
                    world.api.post(
                        f"/v1/moderation/cases/{cases[post['id']]}/decision",
                        json={"action": "approve"},
                        headers=who.headers,
                    )
                    for post, who in zip(posts, (alice, carol), strict=True)
                )
            )
            assert [answer.status_code for answer in decided] == [200, 200], [a.text for a in decided]
            shown = [item["id"] for item in (await call("GET", f"/v1/communities/{community}/feed", bob))["items"]]
            assert all(post["id"] in shown for post in posts)
