"""Posts with uploaded photos: hidden from others until WeChat's pushed verdicts approved every photo, refused
when one is risky, photos signed per answer, replaced by an edit, deleted with the post (from storage too) unless
something alive still shows them; the same for comments, introductions, check-ins, feedback, avatars, covers and
a poll's pictures."""

from __future__ import annotations

import asyncio
import io
import json
import os

import pytest
from PIL import Image

from service.core.media import FILES_KIND
from service.core.storage import Storage
from service.media import logic
from tests.media.conftest import media_world, phone_photo, sha256
from tests.seed import at
from tests.support import http_client


async def _feed_ids(world, who, community_id: str) -> list[str]:
    page = await world.seeder.call("GET", f"/v1/communities/{community_id}/feed", who)
    return [item["id"] for item in page["items"]]


async def _post(world, who, community_id: str, **body) -> dict:
    return await world.seeder.call("POST", f"/v1/communities/{community_id}/posts", who, json=body)


async def _approved(world, who, **photo) -> dict:
    """An upload WeChat passed: not held, the sandbox pushes its verdict on its own, moments later."""
    media = await world.uploaded(who, phone_photo(**photo))
    await world.run_jobs()
    for _ in range(100):
        if await world.status(who, media["id"]) == "approved":
            break
        await asyncio.sleep(0.05)
    assert await world.status(who, media["id"]) == "approved"
    return media


def _stored_files(world) -> list[str]:
    folder = world.stack.settings.media_dir
    return [name for _, _, files in os.walk(folder) for name in files]


async def test_a_post_with_two_photos_shows_to_others_once_both_pass(world):
    alice, bob = await world.user("alice"), await world.user("bob")
    community = await world.seeder.community(alice, bob)
    await world.sandbox("POST", "/hold", json={"hold": True})
    first = await world.uploaded(alice, phone_photo(color=(1, 100, 1)))
    second = await world.uploaded(alice, phone_photo(color=(100, 1, 1)))
    post = await _post(world, alice, community, text="周末跑步打卡", imageIds=[first["id"], second["id"]])
    assert post["status"] == "pending"
    assert [image["id"] for image in post["images"]] == [first["id"], second["id"]]
    for image in post["images"]:
        assert (await world.fetch(image["url"])).status_code == 200
    assert post["id"] not in await _feed_ids(world, bob, community)
    assert post["id"] in await _feed_ids(world, alice, community)  # the author sees it, marked pending

    await world.run_jobs()
    await world.sandbox("POST", "/release", json={})
    shown = await world.seeder.call("GET", f"/v1/posts/{post['id']}", bob)
    assert shown["status"] == "visible" and len(shown["images"]) == 2
    assert post["id"] in await _feed_ids(world, bob, community)
    thumbnail = await world.fetch(shown["images"][0]["thumbnailUrl"])
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    # The member's activity was recorded once, when the post became visible.
    counted = await world.seeder.pool.fetchval(
        "SELECT counted_at IS NOT NULL FROM posts WHERE id = $1", int(post["id"])
    )
    assert counted


async def test_one_risky_photo_refuses_the_post_and_it_never_shows(world):
    alice, bob = await world.user("alice"), await world.user("bob")
    community = await world.seeder.community(alice, bob)
    await world.sandbox("POST", "/hold", json={"hold": True})
    fine = await world.uploaded(alice, phone_photo(color=(1, 1, 100)))
    risky = await world.uploaded(alice, phone_photo(color=(90, 90, 1)))
    post = await _post(world, alice, community, imageIds=[fine["id"], risky["id"]])
    await world.run_jobs()
    served = (await world.fetch(risky["url"])).content
    await world.sandbox("POST", "/rules", json={"sha256": sha256(served), "suggest": "risky"})
    await world.sandbox("POST", "/release", json={"repeat": 2})

    mine = await world.seeder.call("GET", f"/v1/posts/{post['id']}", alice)
    assert mine["status"] == "rejected"
    refused = await world.api.get(f"/v1/posts/{post['id']}", headers=bob.headers)
    assert refused.status_code == 404
    assert post["id"] not in await _feed_ids(world, bob, community)

    # The refused photo cannot be posted again; someone else's upload cannot be posted at all.
    again = await world.api.post(
        f"/v1/communities/{community}/posts", json={"imageIds": [risky["id"]]}, headers=alice.headers
    )
    assert again.status_code == 422 and again.json()["code"] == "media_rejected"
    borrowed = await world.api.post(
        f"/v1/communities/{community}/posts", json={"imageIds": [fine["id"]]}, headers=bob.headers
    )
    assert borrowed.status_code == 400 and borrowed.json()["errors"][0]["field"] == "imageIds[0]"


async def test_photos_already_approved_show_at_once_and_go_with_the_post(world):
    alice, bob = await world.user("alice"), await world.user("bob")
    community = await world.seeder.community(alice, bob)
    photo = await _approved(world, alice, color=(5, 5, 5))
    # A member's text that looks like our URL placeholder is text, never signed.
    text = '晨跑 "mediakey:media/' + "a" * 64 + '.jpg"'
    post = await _post(world, alice, community, text=text, imageIds=[photo["id"]])
    assert post["status"] == "visible" and post["id"] in await _feed_ids(world, bob, community)
    assert post["text"] == text and post["images"][0]["url"].startswith("http")
    assert len(_stored_files(world)) == 2  # the display image and its thumbnail

    await world.seeder.call("DELETE", f"/v1/posts/{post['id']}", alice, (204,))
    pool = world.seeder.pool
    assert await pool.fetchval("SELECT count(*) FROM media") == 0
    # The deletion itself queued the deletion of the files (not the hourly clean-up of unused uploads).
    assert await world.run_queued(FILES_KIND) == 1
    assert await pool.fetchval("SELECT count(*) FROM media_objects") == 0
    assert (await world.fetch(photo["url"])).status_code == 404 and _stored_files(world) == []


async def test_a_deleted_posts_photos_stay_while_another_post_shows_the_same_upload(world):
    alice, bob = await world.user("alice"), await world.user("bob")
    community = await world.seeder.community(alice, bob)
    photo = await _approved(world, alice, color=(7, 70, 140))
    first = await _post(world, alice, community, text="第一次", imageIds=[photo["id"]])
    second = await _post(world, alice, community, text="再发一次", imageIds=[photo["id"]])  # a retry, or on purpose

    await world.seeder.call("DELETE", f"/v1/posts/{first['id']}", alice, (204,))
    assert await world.run_queued(FILES_KIND) == 0  # nothing to delete: the other post shows the photo
    shown = await world.seeder.call("GET", f"/v1/posts/{second['id']}", bob)
    assert [image["id"] for image in shown["images"]] == [photo["id"]]
    assert (await world.fetch(shown["images"][0]["url"])).status_code == 200

    await world.seeder.call("DELETE", f"/v1/posts/{second['id']}", alice, (204,))
    assert await world.run_queued(FILES_KIND) == 1
    assert await world.seeder.pool.fetchval("SELECT count(*) FROM media_objects") == 0
    assert (await world.fetch(shown["images"][0]["url"])).status_code == 404 and _stored_files(world) == []


async def test_an_edit_replaces_the_photos_and_holds_the_post_until_the_new_ones_pass(world):
    alice, bob = await world.user("alice"), await world.user("bob")
    community = await world.seeder.community(alice, bob)
    old = await _approved(world, alice, color=(1, 2, 250))
    post = await _post(world, alice, community, text="周末跑步", imageIds=[old["id"]])
    assert post["status"] == "visible"

    await world.sandbox("POST", "/hold", json={"hold": True})
    new = await world.uploaded(alice, phone_photo(color=(250, 2, 1)))
    path = f"/v1/posts/{post['id']}"
    edited = await world.seeder.call("PUT", path, alice, json={"imageIds": [new["id"]]})
    assert edited["status"] == "pending" and [image["id"] for image in edited["images"]] == [new["id"]]
    assert edited["text"] == "周末跑步" and post["id"] not in await _feed_ids(world, bob, community)
    # The photo it no longer shows is deleted, from storage too.
    assert await world.run_queued(FILES_KIND) == 1
    assert (await world.fetch(old["url"])).status_code == 404

    await world.run_jobs()
    await world.sandbox("POST", "/release", json={})
    assert post["id"] in await _feed_ids(world, bob, community)
    shown = await world.seeder.call("GET", path, bob)
    assert shown["status"] == "visible" and (await world.fetch(shown["images"][0]["url"])).status_code == 200

    # Someone else's upload is refused; `[]` removes the photos and the text stays.
    bobs = await world.uploaded(bob, phone_photo(color=(2, 250, 1)))
    borrowed = await world.api.put(path, json={"imageIds": [bobs["id"]]}, headers=alice.headers)
    assert borrowed.status_code == 400 and borrowed.json()["errors"][0]["field"] == "imageIds[0]"
    cleared = await world.seeder.call("PUT", path, alice, json={"imageIds": []})
    assert cleared["images"] == [] and cleared["status"] == "visible" and cleared["text"] == "周末跑步"
    assert await world.run_queued(FILES_KIND) == 1
    assert (await world.fetch(new["url"])).status_code == 404
    # Text alone may not go with the photos.
    empty = await world.api.put(path, json={"text": ""}, headers=alice.headers)
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "text"


async def test_a_comment_with_a_photo_waits_for_it_and_a_risky_one_is_refused(world):
    alice, bob = await world.user("alice"), await world.user("bob")
    community = await world.seeder.community(alice, bob)
    post_id = await world.seeder.post(alice, community)
    await world.sandbox("POST", "/hold", json={"hold": True})
    fine = await world.uploaded(bob, phone_photo(color=(3, 200, 3)), purpose="comment")
    risky = await world.uploaded(bob, phone_photo(color=(200, 3, 200)), purpose="comment")
    body = {"text": "同去！", "imageId": fine["id"]}
    shown = await world.seeder.call("POST", f"/v1/posts/{post_id}/comments", bob, json=body)
    body = {"text": "看这张", "imageId": risky["id"]}
    refused = await world.seeder.call("POST", f"/v1/posts/{post_id}/comments", bob, json=body)
    assert shown["status"] == refused["status"] == "pending" and shown["image"]["id"] == fine["id"]
    assert (await world.fetch(shown["image"]["thumbnailUrl"])).status_code == 200

    async def seen_by_alice() -> dict[str, str]:
        page = await world.seeder.call("GET", f"/v1/posts/{post_id}/comments", alice)
        return {item["id"]: item["status"] for item in page["items"]}

    assert await seen_by_alice() == {}
    await world.run_jobs()
    served = (await world.fetch(risky["url"])).content
    await world.sandbox("POST", "/rules", json={"sha256": sha256(served), "suggest": "risky"})
    await world.sandbox("POST", "/release", json={})
    assert await seen_by_alice() == {shown["id"]: "visible"}
    page = await world.seeder.call("GET", f"/v1/posts/{post_id}/comments", alice)
    assert (await world.fetch(page["items"][0]["image"]["url"])).status_code == 200
    notified = await world.seeder.pool.fetchval(
        "SELECT count(*) FROM feed_notifications WHERE user_id = $1", int(alice.id)
    )
    assert notified == 1  # alice hears of the comment once it shows, not of the refused one

    borrowed = await world.api.post(
        f"/v1/posts/{post_id}/comments", json={"text": "借图", "imageId": fine["id"]}, headers=alice.headers
    )
    assert borrowed.status_code == 400 and borrowed.json()["errors"][0]["field"] == "imageId"


async def test_an_introduction_with_photos_shows_once_they_pass(world):
    alice, bob = await world.user("alice"), await world.user("bob")
    community = await world.seeder.community(alice, bob)
    await world.sandbox("POST", "/hold", json={"hold": True})
    photo = await world.uploaded(bob, phone_photo(color=(120, 30, 200)), purpose="introduction")
    body = {"text": "大家好，我是 Bob，喜欢越野跑。", "imageIds": [photo["id"]]}
    headers = {"Idempotency-Key": "intro-bob-1"}
    path = f"/v1/communities/{community}/introduction"
    intro = await world.seeder.call("POST", path, bob, json=body, headers=headers)
    assert intro["status"] == "pending" and intro["images"][0]["id"] == photo["id"]
    assert (await world.fetch(intro["images"][0]["url"])).status_code == 200
    again = await world.seeder.call("POST", path, bob, json=body, headers=headers)  # the stored answer, re-signed
    assert again["postId"] == intro["postId"] and again["images"][0]["url"].startswith("http")
    assert intro["postId"] not in await _feed_ids(world, alice, community)

    await world.run_jobs()
    await world.sandbox("POST", "/release", json={})
    assert intro["postId"] in await _feed_ids(world, alice, community)


async def _held_photo_check_in(world, color: tuple[int, int, int]):
    """Bob checks in to alice's activity with a photo WeChat holds for its check: alice, bob, the activity, the
    photo and the check-in."""
    alice, bob = await world.user("alice"), await world.user("bob")
    community = await world.seeder.community(alice, bob)
    activity = await world.seeder.activity(alice, community)
    await world.sandbox("POST", "/hold", json={"hold": True})
    photo = await world.uploaded(bob, phone_photo(color=color), purpose="checkin")
    body = {"text": "今天 5 公里", "imageIds": [photo["id"]]}
    check_in = await world.seeder.call("POST", f"/v1/activities/{activity}/check-ins", bob, json=body)
    return alice, bob, activity, photo, check_in


async def test_a_check_in_with_a_photo_counts_at_once_and_shows_once_it_passes(world):
    alice, _, activity, _, check_in = await _held_photo_check_in(world, (60, 160, 60))
    assert check_in["postStatus"] == "pending" and check_in["streak"] == 1
    assert (await world.fetch(check_in["images"][0]["thumbnailUrl"])).status_code == 200

    async def listed_for_alice() -> list[dict]:
        return (await world.seeder.call("GET", f"/v1/activities/{activity}/check-ins", alice))["items"]

    assert await listed_for_alice() == []
    await world.run_jobs()
    await world.sandbox("POST", "/release", json={})
    [shown] = await listed_for_alice()
    assert shown["postStatus"] == "visible" and (await world.fetch(shown["images"][0]["url"])).status_code == 200


async def test_a_check_in_whose_photo_is_refused_no_longer_counts(world):
    """Held for its photo, the check-in counts at once; when WeChat refuses the photo the post is rejected, and the
    check-in stops counting: no check-in, streak or place in the ranking (docs/operating.md)."""
    alice, bob, activity, photo, check_in = await _held_photo_check_in(world, (160, 20, 160))
    assert check_in["postStatus"] == "pending"

    async def progress() -> tuple[dict, list]:
        me = (await world.seeder.call("GET", f"/v1/activities/{activity}", bob))["me"]
        ranking = (await world.seeder.call("GET", f"/v1/activities/{activity}/ranking", alice))["items"]
        return me, [(entry["userId"], entry["checkIns"]) for entry in ranking]

    me, ranking = await progress()
    assert (me["checkIns"], me["longestStreak"], ranking) == (1, 1, [(check_in["userId"], 1)])
    await world.run_jobs()
    served = (await world.fetch(photo["url"])).content
    await world.sandbox("POST", "/rules", json={"sha256": sha256(served), "suggest": "risky"})
    await world.sandbox("POST", "/release", json={})
    assert (await world.seeder.call("GET", f"/v1/posts/{check_in['postId']}", bob))["status"] == "rejected"
    me, ranking = await progress()
    assert (me["checkedInNow"], me["checkIns"], me["longestStreak"], ranking) == (False, 0, 0, [])


async def test_trial_feedback_photos_reach_the_admins_once_approved_and_go_to_the_shared_post(world):
    alice, bob, carol = await world.user("alice"), await world.user("bob"), await world.user("carol")
    community = await world.seeder.community(alice, bob, carol)
    poll_id, trial_id = await world.seeder.trial(alice, bob, carol, community)
    await world.seeder.claim(bob, trial_id)
    await world.sandbox("POST", "/hold", json={"hold": True})
    photo = await world.uploaded(bob, phone_photo(color=(200, 120, 40)), purpose="feedback")
    body = {"rating": 5, "text": "很好喝", "imageIds": [photo["id"]]}
    given = await world.seeder.call("POST", f"/v1/trials/{trial_id}/feedback", bob, json=body)
    assert [image["id"] for image in given["images"]] == [photo["id"]]  # the author sees their own photo

    async def admins_see() -> list[dict]:
        return (await world.seeder.call("GET", f"/v1/polls/{poll_id}/feedback", alice))["items"][0]["images"]

    assert await admins_see() == []  # not before WeChat approved it
    await world.run_jobs()
    await world.sandbox("POST", "/release", json={})
    [seen] = await admins_see()
    assert (await world.fetch(seen["url"])).status_code == 200
    shared = await world.seeder.call("POST", f"/v1/trials/{trial_id}/feedback/share", bob)
    assert shared["status"] == "visible" and shared["images"][0]["id"] == photo["id"]
    assert shared["postId"] in await _feed_ids(world, carol, community)

    # The shared post shows the feedback's own upload: deleting the post leaves the feedback its photo.
    await world.seeder.call("DELETE", f"/v1/posts/{shared['postId']}", bob, (204,))
    assert await world.run_queued(FILES_KIND) == 0
    [still] = await admins_see()
    assert still["id"] == photo["id"] and (await world.fetch(still["url"])).status_code == 200


async def test_an_avatar_and_a_cover_from_uploads_show_to_anyone_once_approved(world):
    alice, bob = await world.user("alice"), await world.user("bob")
    await world.sandbox("POST", "/hold", json={"hold": True})
    avatar = await world.uploaded(alice, phone_photo(color=(250, 200, 10)), purpose="avatar")
    cover = await world.uploaded(alice, phone_photo(2400, 1200, orientation=1, color=(10, 90, 250)), purpose="cover")
    me = await world.seeder.call("PUT", "/v1/me", alice, json={"avatarMediaId": avatar["id"]})
    assert me["avatarUrl"] == f"{world.stack.api_url}/v1/media/public/{avatar['id']}"
    community = await world.seeder.call(
        "POST", "/v1/communities", alice, json={"name": "跑团", "coverMediaId": cover["id"]}
    )
    assert community["coverUrl"].endswith(f"/v1/media/public/{cover['id']}")

    async with http_client(timeout=10) as http:  # what an <image src> does: no token, follows redirects
        assert (await http.get(me["avatarUrl"])).status_code == 404  # not before WeChat approved it
        await world.run_jobs()
        await world.sandbox("POST", "/release", json={})
        shown = await http.get(me["avatarUrl"], follow_redirects=True)
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
        assert max(Image.open(io.BytesIO(shown.content)).size) == 400  # the thumbnail
        wide = await http.get(community["coverUrl"], follow_redirects=True)
        assert Image.open(io.BytesIO(wide.content)).size == (1600, 800)  # the display image
        # Any other upload is not public, approved or not.
        other = await world.uploaded(bob, phone_photo(color=(1, 1, 1)))
        assert (await http.get(f"{world.stack.api_url}/v1/media/public/{other['id']}")).status_code == 404

    taken = await world.api.put("/v1/me", json={"avatarMediaId": avatar["id"]}, headers=bob.headers)
    assert taken.status_code == 400 and taken.json()["errors"][0]["field"] == "avatarMediaId"


async def test_an_upload_of_another_purpose_is_refused_as_an_avatar_or_a_cover(world):
    """Only an `avatar` (`cover`) upload is ever served by the public link: another was taken and answered a link
    that stayed 404 for good, approved or not."""
    alice = await world.user("alice")
    photo = await world.uploaded(alice, phone_photo(), purpose="post")
    avatar = await world.api.put("/v1/me", json={"avatarMediaId": photo["id"]}, headers=alice.headers)
    assert avatar.status_code == 400 and avatar.json()["errors"][0]["field"] == "avatarMediaId", avatar.text
    body = {"name": "跑团", "coverMediaId": photo["id"]}
    cover = await world.api.post("/v1/communities", json=body, headers=alice.headers)
    assert cover.status_code == 400 and cover.json()["errors"][0]["field"] == "coverMediaId", cover.text
    assert await world.seeder.pool.fetchval("SELECT attached_at FROM media") is None  # still unused


async def test_a_polls_pictures_are_its_admins_uploads_shown_to_members_once_approved(world):
    alice, bob = await world.user("alice"), await world.user("bob")
    community = await world.seeder.community(alice, bob)
    await world.sandbox("POST", "/hold", json={"hold": True})
    fine = await world.uploaded(alice, phone_photo(color=(30, 30, 200)))
    risky = await world.uploaded(alice, phone_photo(color=(200, 30, 30)))
    bobs = await world.uploaded(bob, phone_photo(color=(30, 200, 30)))
    path = f"/v1/communities/{community}/polls"
    body = {"title": "新款冷萃咖啡", "proposalsCloseAt": at(hours=1), "votingCloseAt": at(hours=2)}

    borrowed = await world.api.post(path, json={**body, "imageIds": [fine["id"], bobs["id"]]}, headers=alice.headers)
    assert borrowed.status_code == 400 and borrowed.json()["errors"][0]["field"] == "imageIds[1]"
    urls = await world.api.post(
        path, json={**body, "imageUrls": ["https://cdn.example.com/p.jpg"]}, headers=alice.headers
    )
    assert urls.status_code == 400 and urls.json()["errors"][0]["field"] == "imageUrls"
    poll = await world.seeder.call("POST", path, alice, json={**body, "imageIds": [fine["id"], risky["id"]]})
    assert [image["id"] for image in poll["images"]] == [fine["id"], risky["id"]] and poll["imageUrls"] == []
    assert (await world.fetch(poll["images"][0]["thumbnailUrl"])).status_code == 200  # its admin sees them at once

    async def seen_by(who) -> tuple[list[str], list[str]]:
        one = await world.seeder.call("GET", f"/v1/polls/{poll['id']}", who)
        [listed] = (await world.seeder.call("GET", path, who))["items"]
        return [image["id"] for image in one["images"]], [image["id"] for image in listed["images"]]

    assert await seen_by(bob) == ([], [])  # not before WeChat approved them
    assert await seen_by(alice) == ([fine["id"], risky["id"]],) * 2

    await world.run_jobs()
    served = (await world.fetch(risky["url"])).content
    await world.sandbox("POST", "/rules", json={"sha256": sha256(served), "suggest": "risky"})
    await world.sandbox("POST", "/release", json={})
    assert await seen_by(bob) == ([fine["id"]],) * 2  # the approved one; never the refused one
    assert await seen_by(alice) == ([fine["id"], risky["id"]],) * 2
    one = await world.seeder.call("GET", f"/v1/polls/{poll['id']}", bob)
    assert (await world.fetch(one["images"][0]["url"])).status_code == 200
    # A refused picture cannot be used again.
    again = await world.api.post(path, json={**body, "imageIds": [risky["id"]]}, headers=alice.headers)
    assert again.status_code == 422 and again.json()["code"] == "media_rejected"


async def test_a_cached_page_signs_its_photos_for_every_reader(database_url, pay_keys):
    """The page cache keeps placeholders, never URLs: each answer from it is signed (a shared page looks for
    photos once, service/feed/cache.py)."""
    async with media_world(database_url, pay_keys, feed_cache_seconds=60) as world:
        alice, bob, carol = [await world.user(name) for name in ("alice", "bob", "carol")]
        community = await world.seeder.community(alice, bob, carol)
        photo = await _approved(world, alice, color=(9, 90, 9))
        post = await _post(world, alice, community, text="晨跑", imageIds=[photo["id"]])
        assert post["id"] in await _feed_ids(world, bob, community)  # the page is cached now
        later = await _post(world, alice, community, text="没有照片")

        page = await world.seeder.call("GET", f"/v1/communities/{community}/feed", carol)
        assert later["id"] not in [item["id"] for item in page["items"]]  # carol's page came from the cache
        [shown] = [item for item in page["items"] if item["id"] == post["id"]]
        assert "mediakey:" not in json.dumps(page)
        assert (await world.fetch(shown["images"][0]["url"])).status_code == 200
        assert (await world.fetch(shown["images"][0]["thumbnailUrl"])).status_code == 200


WAITING = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
"""


async def _while_a_post_waits(world, post, then) -> tuple[asyncio.Task, asyncio.Task]:
    """``post`` (a coroutine making a post that has taken its photo) held before its insert by a lock of the posts
    table, ``then`` started once it waits and let go once ``then`` waits too (for the photo's row): both tasks."""
    pool = world.seeder.pool
    async with pool.acquire() as lock, lock.transaction():
        await lock.execute("LOCK TABLE posts IN EXCLUSIVE MODE")
        posting = asyncio.create_task(post)
        async with asyncio.timeout(30):
            while await pool.fetchval(WAITING) < 1:
                await asyncio.sleep(0.05)
            other = asyncio.create_task(then)
            while await pool.fetchval(WAITING) < 2:
                await asyncio.sleep(0.05)
    return posting, other


async def test_an_upload_posted_as_the_clean_up_deletes_unused_ones_stays_with_the_post(world):
    """The clean-up chose the day-old upload as unused while a post was taking it: it waited for the post's
    transaction, then deleted the upload the post now showed (the post lost its photo, the files went)."""
    alice = await world.user("alice")
    community = await world.seeder.community(alice)
    photo = await world.uploaded(alice, phone_photo())
    pool, settings = world.seeder.pool, world.stack.settings
    await pool.execute("UPDATE media SET created_at = now() - interval '25 hours'")
    post, cleanup = await _while_a_post_waits(
        world,
        _post(world, alice, community, text="一张老照片", imageIds=[photo["id"]]),
        logic.delete_unattached(pool, settings, Storage(settings)),
    )
    assert [image["id"] for image in (await post)["images"]] == [photo["id"]]
    await cleanup
    shown = await world.seeder.call("GET", f"/v1/posts/{(await post)['id']}", alice)
    assert [image["id"] for image in shown["images"]] == [photo["id"]]
    assert (await world.fetch(shown["images"][0]["url"])).status_code == 200


@pytest.mark.parametrize("apart", [True, False], ids=["other-community", "same-community"])
async def test_an_upload_posted_again_as_the_comment_showing_it_is_deleted_stays_with_the_new_post(world, apart):
    """The deletion read what still showed the photo before the new post committed, then deleted the upload the
    post had just taken (waiting for its row): the post lost its photo and the files went. In one community the
    deletion had also taken the member's day of the roll-up (speech_days) the post waits for: a deadlock, a 500."""
    alice = await world.user("alice")
    community = await world.seeder.community(alice)
    other = await world.seeder.community(alice) if apart else community
    photo = await _approved(world, alice, color=(33, 99, 66))
    first = await _post(world, alice, other, text="先发一条")
    comment = await world.seeder.call(
        "POST", f"/v1/posts/{first['id']}/comments", alice, json={"text": "配图", "imageId": photo["id"]}
    )
    post, deletion = await _while_a_post_waits(
        world,
        _post(world, alice, community, text="再发一次", imageIds=[photo["id"]]),
        world.seeder.call("DELETE", f"/v1/comments/{comment['id']}", alice, (204,)),
    )
    posted = await post
    await deletion
    await world.run_queued(FILES_KIND)
    shown = await world.seeder.call("GET", f"/v1/posts/{posted['id']}", alice)
    assert [image["id"] for image in shown["images"]] == [photo["id"]]
    assert (await world.fetch(shown["images"][0]["url"])).status_code == 200
