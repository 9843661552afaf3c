"""An upload repeated after its answer was lost (wx.uploadFile's retry, the kit's): with the same Idempotency-Key it
answers the upload made first, one media row; the key with another file is refused; without a key nothing changed."""

from __future__ import annotations

import asyncio

from tests.media.conftest import media_world, phone_photo

WAITING = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
"""


async def test_a_retry_with_the_same_key_answers_the_first_upload_without_counting_or_storing_again(
    database_url, pay_keys
):
    # One upload a minute: a retry that ran again would be refused (429) before it even decoded the file.
    async with media_world(database_url, pay_keys, media_uploads_per_minute=1) as world:
        alice, bob = await world.user("alice"), await world.user("bob")
        photo = phone_photo()
        first = await world.upload(alice, photo, key="photo-1")
        again = await world.upload(alice, photo, key="photo-1")
        assert first.status_code == again.status_code == 201, again.text
        assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
        pool = world.seeder.pool
        assert await pool.fetchval("SELECT count(*) FROM media WHERE owner_id = $1", int(alice.id)) == 1
        assert await pool.fetchval("SELECT hits FROM rate_limits WHERE bucket = $1", f"media-minute:{alice.id}") == 1
        # Keys are each member's own: bob's upload under the same key is his.
        theirs = await world.upload(bob, photo, key="photo-1")
        assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
        assert await pool.fetchval("SELECT count(*) FROM media") == 2


async def test_the_same_key_with_another_file_or_purpose_is_refused_and_stores_nothing(world):
    alice = await world.user("alice")
    first = await world.upload(alice, phone_photo(), key="photo-1")
    assert first.status_code == 201, first.text
    other = await world.upload(alice, phone_photo(color=(1, 2, 3)), key="photo-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused", other.text
    assert other.json()["userMessage"]
    avatar = await world.upload(alice, phone_photo(), purpose="avatar", key="photo-1")
    assert avatar.status_code == 422 and avatar.json()["code"] == "idempotency_key_reused"
    pool = world.seeder.pool
    assert await pool.fetchval("SELECT count(*) FROM media") == 1
    assert await pool.fetchval("SELECT count(*) FROM media_objects") == 1
    # Without a key, as before: each upload is one, the same file twice is two uploads.
    plain = [await world.upload(alice, phone_photo()) for _ in range(2)]
    assert [r.status_code for r in plain] == [201, 201] and plain[0].json()["id"] != plain[1].json()["id"]
    assert await pool.fetchval("SELECT count(*) FROM media") == 3


async def test_two_uploads_at_once_with_one_key_make_one_upload(world):
    """Both decoded and in their transactions at once (held at the insert by a lock on the table): the second waits
    for the first's key, then answers what the first stored."""
    alice = await world.user("alice")
    photo = phone_photo()
    pool = world.seeder.pool
    async with pool.acquire() as lock, lock.transaction():
        await lock.execute("LOCK TABLE media IN EXCLUSIVE MODE")  # reads go on; inserts wait
        uploads = [asyncio.create_task(world.upload(alice, photo, key="photo-1")) for _ in range(2)]
        async with asyncio.timeout(30):
            while await pool.fetchval(WAITING) < 2:
                await asyncio.sleep(0.05)
    answers = await asyncio.gather(*uploads)
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert sorted(a.headers.get("idempotent-replayed", "") for a in answers) == ["", "true"]
    assert await pool.fetchval("SELECT count(*) FROM media") == 1
