"""Uploading photos as wx.uploadFile sends them: metadata removed, files judged by their bytes, limits."""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time

from PIL import Image

from service.core.storage import local_signature
from service.media.logic import DECODER_NICENESS
from tests.media.conftest import media_world, phone_photo


async def test_a_phone_photo_comes_back_upright_without_its_metadata_and_only_for_its_owner(world):
    alice, bob = await world.user("alice"), await world.user("bob")
    media = await world.uploaded(alice, phone_photo(1200, 900, orientation=6), purpose="checkin")
    assert media["id"].isdigit() and media["status"] == "pending" and media["purpose"] == "checkin"
    # Orientation 6 (rotate 90°) applied: the landscape original is served in portrait.
    assert (media["width"], media["height"], media["mimeType"]) == (900, 1200, "image/jpeg")

    for url, longest in ((media["url"], 1200), (media["thumbnailUrl"], 400)):
        served = await world.fetch(url)
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        image = Image.open(io.BytesIO(served.content))
        assert max(image.size) == longest
        # No EXIF (GPS, camera, orientation), no XMP, no ICC profile: nothing but the pixels.
        assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
        assert b"PhoneMaker" not in served.content and b"GPS" not in served.content
    assert media["bytes"] == len((await world.fetch(media["url"])).content)

    mine = await world.api.get(f"/v1/media/{media['id']}", headers=alice.headers)
    assert mine.status_code == 200 and mine.json()["id"] == media["id"]
    theirs = await world.api.get(f"/v1/media/{media['id']}", headers=bob.headers)
    assert theirs.status_code == 404 and theirs.json()["code"] == "not_found"


async def test_a_photo_whose_bytes_spell_a_json_nul_escape_is_taken(world):
    """The check that refuses U+0000 in JSON bodies once scanned uploads too: a photo holding the six bytes
    `\\u0000` (here after its end, where phones keep trailers such as motion photos) was refused as 400."""
    alice = await world.user("alice")
    photo = phone_photo() + b"\\u0000 trailer"
    media = await world.uploaded(alice, photo)
    assert (media["width"], media["height"]) == (900, 1200)
    assert b"\\u0000" not in (await world.fetch(media["url"])).content


async def test_files_that_are_not_images_or_are_bombs_are_refused_and_nothing_is_stored(world):
    alice = await world.user("alice")
    text = await world.upload(alice, b"just some text, not a photo\n" * 10, name="photo.jpg")
    assert text.status_code == 415 and text.json()["code"] == "media_unsupported_type"
    assert text.json()["userMessage"].startswith("只支持")
    empty = await world.upload(alice, b"", name="photo.jpg")
    assert empty.status_code == 415 and empty.json()["code"] == "media_unsupported_type", empty.text

    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")  # 400 million pixels in about 50 KB
    assert len(bomb.getvalue()) < 100_000
    refused = await world.upload(alice, bomb.getvalue(), name="bomb.png")
    assert refused.status_code == 422 and refused.json()["code"] == "media_too_many_pixels"

    cut = phone_photo()
    broken = await world.upload(alice, cut[: len(cut) // 2])
    assert broken.status_code == 422 and broken.json()["code"] == "media_unreadable"

    huge = await world.upload(alice, b"\xff\xd8\xff" + os.urandom(10 * 1024 * 1024))
    assert huge.status_code == 413 and huge.json()["code"] in ("media_too_large", "payload_too_large")

    no_file = await world.api.post("/v1/media", files={"purpose": (None, "post")}, headers=alice.headers)
    assert no_file.status_code == 400 and no_file.json()["code"] == "validation_failed", no_file.text
    assert [error["field"] for error in no_file.json()["errors"]] == ["file"], no_file.text
    bad_purpose = await world.upload(alice, phone_photo(), purpose="wallpaper")
    assert bad_purpose.status_code == 400 and bad_purpose.json()["code"] == "validation_failed"
    assert [error["field"] for error in bad_purpose.json()["errors"]] == ["purpose"], bad_purpose.text

    pool = world.seeder.pool
    assert await pool.fetchval("SELECT count(*) FROM media") == 0
    assert await pool.fetchval("SELECT count(*) FROM media_objects") == 0
    folder = world.stack.settings.media_dir
    assert not os.path.isdir(folder) or not any(files for _, _, files in os.walk(folder))


async def test_the_same_file_is_stored_once_and_uploads_are_rate_limited(database_url, pay_keys):
    async with media_world(database_url, pay_keys, media_uploads_per_minute=3) as world:
        alice, bob = await world.user("alice"), await world.user("bob")
        photo = phone_photo()
        first = await world.uploaded(alice, photo)
        again = await world.uploaded(bob, photo)
        assert first["id"] != again["id"]
        assert first["url"].split("?")[0] == again["url"].split("?")[0]
        pool = world.seeder.pool
        assert await pool.fetchval("SELECT count(*) FROM media_objects") == 1
        assert await pool.fetchval("SELECT count(*) FROM media") == 2

        await world.uploaded(alice, phone_photo(color=(1, 2, 3)))
        await world.uploaded(alice, phone_photo(color=(4, 5, 6)))
        limited = await world.upload(alice, phone_photo(color=(7, 8, 9)))
        assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert await pool.fetchval("SELECT count(*) FROM media WHERE owner_id = $1", int(alice.id)) == 3


async def test_uploads_stop_at_the_daily_quota_until_its_window_ends(database_url, pay_keys):
    async with media_world(database_url, pay_keys, media_uploads_per_minute=100, media_uploads_per_day=2) as world:
        alice, bob = await world.user("alice"), await world.user("bob")
        for n in range(2):
            await world.uploaded(alice, phone_photo(color=(n, 9, 9)))
        limited = await world.upload(alice, phone_photo(color=(9, 9, 9)))
        assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
        assert limited.json()["detail"] == "at most 2 photos a day"
        # Retry-After: when the day's window ends, not in a minute.
        assert 86400 - 60 <= int(limited.headers["retry-after"]) <= 86400
        assert limited.json()["retryAfter"] == int(limited.headers["retry-after"])
        # A refused file counts too (decoding is the cost the quota guards), and the quota is per member.
        assert (await world.upload(alice, b"not a photo")).status_code == 429
        await world.uploaded(bob, phone_photo(color=(9, 9, 9)))
        pool = world.seeder.pool
        assert await pool.fetchval("SELECT count(*) FROM media WHERE owner_id = $1", int(alice.id)) == 2

        # The next day (the window started 24 hours ago) alice may upload again.
        await pool.execute("UPDATE rate_limits SET window_start = window_start - interval '1 day'")
        await world.uploaded(alice, phone_photo(color=(9, 9, 9)))


async def test_a_file_link_works_only_as_signed_and_until_it_expires(world):
    alice = await world.user("alice")
    media = await world.uploaded(alice, phone_photo())
    assert (await world.fetch(media["url"])).status_code == 200

    base, query = media["url"].split("?")
    name = base.split("/v1/media/files/")[1]
    params = dict(part.split("=", 1) for part in query.split("&"))
    longer = await world.fetch(f"{base}?expires={int(params['expires']) + 3600}&signature={params['signature']}")
    assert longer.status_code == 403 and longer.json()["code"] == "media_link_invalid"

    past = int(time.time()) - 1
    signature = local_signature(world.stack.settings, "media/" + name, past)
    expired = f"{base}?expires={past}&signature={signature}"
    refused = await world.fetch(expired)
    assert refused.status_code == 403 and refused.json()["code"] == "media_link_invalid"
    other = await world.fetch(base.replace(name, "0" * 64 + ".jpg") + "?" + query)
    assert other.status_code == 403
    outside = await world.fetch(base.replace(name, "..%2F..%2Fsecret.jpg") + "?" + query)
    assert outside.status_code in (400, 404)


async def test_photos_are_decoded_at_a_lower_cpu_priority_than_the_api(world):
    """The upload's decoding thread yields the cores to the event loop (the feed beside uploads)."""
    alice = await world.user("alice")
    await world.uploaded(alice, phone_photo(800, 600), purpose="checkin")
    decoders = [t for t in threading.enumerate() if t.name.startswith("media-decoder")]
    assert decoders, "the upload was decoded on the media decoders' threads"

    def nice(tid: int) -> int:  # field 19 of /proc/<pid>/task/<tid>/stat, after the command's parentheses
        return int(open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()[16])

    api = nice(threading.get_native_id())
    assert all(nice(t.native_id) == min(19, api + DECODER_NICENESS) for t in decoders)


async def test_uploads_need_one_database_connection_at_a_time(database_url, pay_keys):
    """An upload held the request's connection while it took others from the pool: as many uploads at once as the
    pool has connections each held one and waited for another, forever (here one connection and one upload)."""
    async with media_world(database_url, pay_keys, db_pool_min=1, db_pool_max=1) as world:
        alice = await world.user("alice")
        photo = phone_photo()
        async with asyncio.timeout(30):
            first = await world.uploaded(alice, photo, key="photo-1")
            again = await world.upload(alice, photo, key="photo-1")
            assert again.status_code == 201 and again.json() == first, again.text
            reused = await world.uploaded(alice, photo)  # the same content: stored once, nothing decoded
            assert reused["id"] != first["id"]
