"""WeChat's image check end to end: the sandbox downloads our signed URL, pushes a signed verdict to the message
URL, duplicates change nothing, a verdict that never comes is asked again; the S3 path against a real S3 server."""

from __future__ import annotations

import asyncio
import hashlib
import time

import asyncpg
import pytest

from tests.media.conftest import media_world, phone_photo, s3_server, sha256
from tests.support import http_client
from tests.wechat_support import wait_for_lock_waiters


async def test_verdicts_arrive_by_push_risky_rejects_and_duplicates_change_nothing(world):
    alice = await world.user("alice")
    await world.sandbox("POST", "/hold", json={"hold": True})
    fine = await world.uploaded(alice, phone_photo(color=(10, 200, 10)), purpose="post")
    risky = await world.uploaded(alice, phone_photo(color=(200, 10, 10)), purpose="avatar")
    await world.run_jobs()  # the check jobs submit both to media_check_async

    checks = (await world.sandbox("GET", "/checks"))["items"]
    assert sorted(check["scene"] for check in checks) == [1, 3]  # avatar: profile; post: forum
    assert {check["openid"] for check in checks} == {
        (await world.stack.sandbox.control("GET", "/sandbox/users/alice"))["openid"]
    }
    served = (await world.fetch(risky["url"])).content
    await world.sandbox("POST", "/rules", json={"sha256": sha256(served), "suggest": "risky"})

    released = (await world.sandbox("POST", "/release", json={"repeat": 2}))["items"]
    assert sorted(check["suggest"] for check in released) == ["pass", "risky"]
    assert all(check["state"] == "pushed" and check["pushes"] == 2 for check in released)
    assert await world.status(alice, fine["id"]) == "approved"
    assert await world.status(alice, risky["id"]) == "rejected"
    pool = world.seeder.pool
    answered = await pool.fetch("SELECT suggest FROM media_checks WHERE answered_at IS NOT NULL ORDER BY suggest")
    assert [row["suggest"] for row in answered] == ["pass", "risky"]

    # A late, forged or replayed "pass" for the rejected image changes nothing.
    trace = next(check["traceId"] for check in released if check["suggest"] == "risky")
    token, timestamp, nonce = world.stack.settings.sandbox_message_token, str(int(time.time())), "n1"
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    body = {"MsgType": "event", "Event": "wxa_media_check", "FromUserName": "o", "CreateTime": 1, "trace_id": trace}
    body |= {"errcode": 0, "result": {"suggest": "pass", "label": 100}}
    query = {"signature": signature, "timestamp": timestamp, "nonce": nonce}
    replay = await world.api.post("/v1/wechat/messages", params=query, json=body)
    assert replay.status_code == 200 and replay.text == "success"
    forged = await world.api.post("/v1/wechat/messages", params={**query, "signature": "0" * 40}, json=body)
    assert forged.status_code == 403 and forged.json()["code"] == "invalid_signature"
    assert await world.status(alice, risky["id"]) == "rejected"


async def test_a_verdict_pushed_before_its_submission_is_stored_still_decides(world):
    """WeChat can push the verdict before the worker has stored the trace_id media_check_async answered: the
    verdict waits for its submission instead of being dropped (which left the image pending until re-submitted)."""
    alice = await world.user("alice")
    await world.sandbox("POST", "/hold", json={"hold": True})
    media = await world.uploaded(alice, phone_photo())
    holder = await asyncpg.connect(world.stack.settings.database_url)
    try:
        tx = holder.transaction()
        await tx.start()
        # Storing the submission waits behind this lock, after media_check_async has answered its trace_id.
        await holder.execute("SELECT 1 FROM media_objects FOR UPDATE")
        submitting = asyncio.create_task(world.drain_checks())
        await wait_for_lock_waiters(holder, 1)
        pushing = asyncio.create_task(world.sandbox("POST", "/release", json={}))
        waiting = """SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'"""
        for _ in range(250):  # the push is answered, or waits for the submission to be stored
            await holder.execute("SELECT pg_stat_clear_snapshot()")
            if pushing.done() or await holder.fetchval(waiting) >= 2:
                break
            await asyncio.sleep(0.02)
        await tx.rollback()
        await submitting
        released = (await pushing)["items"]
    finally:
        await holder.close()
    assert [(check["state"], check["suggest"]) for check in released] == [("pushed", "pass")]
    assert await world.status(alice, media["id"]) == "approved"


@pytest.mark.parametrize(("suggest", "status"), [("pass", "approved"), ("risky", "rejected")])
async def test_a_verdict_pushed_and_answered_before_the_submission_is_stored_is_kept_for_it(world, suggest, status):
    """The push fully handled before the worker's transaction storing the trace_id begins (the sandbox pushes and
    waits for the answer before answering media_check_async): it is kept as an early verdict, then that
    transaction takes and applies it, deciding the image and the post waiting for it."""
    alice, bob = await world.user("alice"), await world.user("bob")
    community = await world.seeder.community(alice, bob)
    media = await world.uploaded(alice, phone_photo(color=(30, 140, 90)))
    post = await world.seeder.call(
        "POST", f"/v1/communities/{community}/posts", alice, json={"imageIds": [media["id"]]}
    )
    assert post["status"] == "pending"
    if suggest != "pass":
        served = (await world.fetch(media["url"])).content
        await world.sandbox("POST", "/rules", json={"sha256": sha256(served), "suggest": suggest})
    await world.sandbox("POST", "/push-before-answer", json={"pushBeforeAnswer": True})

    await world.drain_checks()

    checks = (await world.sandbox("GET", "/checks"))["items"]
    assert [(check["state"], check["suggest"], check["pushes"], check["answer"]) for check in checks] == [
        ("pushed", suggest, 1, "success")
    ]
    pool = world.seeder.pool
    assert await pool.fetchval("SELECT count(*) FROM media_early_verdicts") == 0  # taken by the submission
    answered = await pool.fetchrow(
        "SELECT suggest, answered_at FROM media_checks WHERE trace_id = $1", checks[0]["traceId"]
    )
    assert answered["suggest"] == suggest and answered["answered_at"] is not None
    assert await world.status(alice, media["id"]) == status
    shown = await world.api.get(f"/v1/posts/{post['id']}", headers=bob.headers)
    if status == "approved":
        assert shown.status_code == 200 and shown.json()["status"] == "visible"
    else:
        assert shown.status_code == 404
        mine = await world.seeder.call("GET", f"/v1/posts/{post['id']}", alice)
        assert mine["status"] == "rejected"


async def test_a_verdict_that_never_comes_is_asked_for_again(database_url, pay_keys):
    async with media_world(database_url, pay_keys, media_check_resubmit_after=0) as world:
        alice = await world.user("alice")
        await world.sandbox("POST", "/hold", json={"hold": True})
        media = await world.uploaded(alice, phone_photo())
        await world.drain_checks()
        dropped = (await world.sandbox("POST", "/drop"))["items"]
        assert len(dropped) == 1 and await world.status(alice, media["id"]) == "pending"

        await world.run_jobs()  # the re-submission job finds it unchecked and submits it again
        checks = (await world.sandbox("GET", "/checks"))["items"]
        assert [check["state"] for check in checks][:1] == ["dropped"] and len(checks) >= 2
        await world.sandbox("POST", "/release", json={})
        assert await world.status(alice, media["id"]) == "approved"
        attempts = await world.seeder.pool.fetchval("SELECT check_attempts FROM media_objects")
        assert attempts == len(checks)


async def test_an_unreachable_url_gets_no_verdict(database_url, pay_keys):
    # WeChat downloads the image itself: a URL it cannot fetch (here: a public base URL nobody serves) is
    # never checked, and the image stays its uploader's alone.
    async with media_world(database_url, pay_keys, public_base_url="http://127.0.0.1:9") as world:
        alice = await world.user("alice")
        media = (await world.upload(alice, phone_photo())).json()
        await world.sandbox("POST", "/hold", json={"hold": True})
        await world.run_jobs()
        released = (await world.sandbox("POST", "/release", json={}))["items"]
        assert [check["state"] for check in released] == ["fetch_failed"]
        pending = await world.seeder.pool.fetchval("SELECT status FROM media_objects WHERE sha256 IS NOT NULL")
        assert pending == "pending" and media["status"] == "pending"


async def test_the_s3_path_stores_signs_checks_and_cleans_up(database_url, pay_keys):
    boto3 = pytest.importorskip("boto3")
    with s3_server() as endpoint:
        keys = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys)
        s3.create_bucket(Bucket="photos")
        settings = {
            "media_s3_bucket": "photos",
            "media_s3_endpoint": endpoint,
            "media_s3_access_key_id": keys["aws_access_key_id"],
            "media_s3_secret_access_key": keys["aws_secret_access_key"],
        }
        async with media_world(database_url, pay_keys, **settings) as world:
            alice = await world.user("alice")
            media = await world.uploaded(alice, phone_photo())
            assert media["url"].startswith(endpoint + "/photos/media/") and "X-Amz-Signature" in media["url"]
            assert (await world.fetch(media["url"])).status_code == 200
            async with http_client() as http:  # the bucket is private: unsigned reads are refused
                assert (await http.get(media["url"].split("?")[0])).status_code == 403
            stored = sorted(item["Key"] for item in s3.list_objects_v2(Bucket="photos")["Contents"])
            assert len(stored) == 2 and any(key.endswith("-thumb.jpg") for key in stored)

            await world.run_jobs()
            await world.sandbox("POST", "/release", json={})
            assert await world.status(alice, media["id"]) == "approved"  # WeChat fetched the presigned URL

            # A post's photos are signed together for each answer.
            posted = await world.uploaded(alice, phone_photo(color=(9, 9, 9)))
            community = await world.seeder.community(alice)
            body = {"imageIds": [posted["id"]]}
            post = await world.seeder.call("POST", f"/v1/communities/{community}/posts", alice, json=body)
            for url in (post["images"][0]["url"], post["images"][0]["thumbnailUrl"]):
                assert url.startswith(endpoint) and (await world.fetch(url)).status_code == 200

            # Never attached to anything: a day later the upload and its files are gone; the post's stay.
            pool = world.seeder.pool
            await pool.execute("UPDATE media SET created_at = now() - interval '25 hours'")
            await world.run_jobs()
            assert await pool.fetchval("SELECT array_agg(id::text) FROM media") == [posted["id"]]
            assert await pool.fetchval("SELECT count(*) FROM media_objects") == 1
            assert s3.list_objects_v2(Bucket="photos").get("KeyCount") == 2
