"""The photo storage failing under an upload (a real S3 server, moto's, made to fail): 503 `not_ready` with
Retry-After, nothing recorded, the attempt not counted against the limits; once the store is back, the same
upload goes through."""

from __future__ import annotations

import socket
import uuid

import pytest

from tests.media.conftest import S3_KEYS, media_world, phone_photo, s3_server, s3_settings

RECORDED = """
SELECT (SELECT count(*) FROM media) + (SELECT count(*) FROM media_objects)
     + (SELECT count(*) FROM idempotent_requests WHERE user_id = $1)
     + (SELECT count(*) FROM jobs WHERE kind = 'media.check')
"""
HITS = "SELECT coalesce(sum(hits), 0) FROM rate_limits WHERE bucket LIKE 'media-%:' || $1"


def assert_retry_later(answer) -> None:
    assert answer.status_code == 503, answer.text
    problem = answer.json()
    assert problem["code"] == "not_ready" and problem["userMessage"], problem
    assert answer.headers["retry-after"] == "5" and problem["retryAfter"] == 5


async def test_an_upload_the_bucket_refuses_is_a_503_that_stores_and_counts_nothing_and_goes_through_later(
    database_url, pay_keys
):
    boto3 = pytest.importorskip("boto3")
    with s3_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **S3_KEYS)
        bucket = f"photos-{uuid.uuid4().hex[:12]}"  # moto keeps its buckets per process: one of this test's own
        s3.create_bucket(Bucket=bucket)
        settings = s3_settings(endpoint, bucket)
        # One upload a minute: had the failed attempt counted, the retry would be 429.
        async with media_world(database_url, pay_keys, media_uploads_per_minute=1, **settings) as world:
            alice = await world.user("alice")
            pool = world.seeder.pool
            photo = phone_photo()
            s3.delete_bucket(Bucket=bucket)  # every write now fails (404 NoSuchBucket)

            failed = await world.upload(alice, photo, key="photo-1")
            assert_retry_later(failed)
            assert await pool.fetchval(RECORDED, int(alice.id)) == 0
            assert await pool.fetchval(HITS, alice.id) == 0

            s3.create_bucket(Bucket=bucket)  # the store is back: the kit's retry (same key) goes through
            again = await world.upload(alice, photo, key="photo-1")
            assert again.status_code == 201, again.text
            assert "idempotent-replayed" not in again.headers
            assert (await world.fetch(again.json()["url"])).status_code == 200
            assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 2
            assert await pool.fetchval(HITS, alice.id) == 2  # one hit in each window: the upload that was made


async def test_an_upload_while_the_store_is_unreachable_is_a_503_that_stores_nothing(database_url, pay_keys):
    with socket.socket() as closed:  # a port nothing listens on once closed
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with media_world(database_url, pay_keys, **s3_settings(f"http://127.0.0.1:{port}")) as world:
        alice = await world.user("alice")
        failed = await world.upload(alice, phone_photo())  # after obstore's retries (about 5 s)
        assert_retry_later(failed)
        assert await world.seeder.pool.fetchval(RECORDED, int(alice.id)) == 0
        assert await world.seeder.pool.fetchval(HITS, alice.id) == 0
