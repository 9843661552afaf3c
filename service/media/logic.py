"""Photos: upload (limits, decoding off the event loop, storage once per content), reading, WeChat's verdicts,
re-submission of checks that never came back, and deletion of uploads nobody used."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar import Response

from service.core import hooks, ratelimit
from service.core.hooks import MediaDecided, MediaVerdict
from service.core.idempotency import replay, run_once, scope_of
from service.core.storage import Storage, StorageUnavailable
from service.errors import Problem
from service.jobs import enqueue
from service.media import models as m
from service.media import queries as q
from service.media.processing import Processed, Refused, process
from service.settings import Settings
from service.wechat.client import WeChatClient

log = logging.getLogger("service.media")

# What members see: a verdict of `review` waits for a person and shows as pending meanwhile.
SHOWN_STATUS = {"pending": "pending", "review": "pending", "approved": "approved", "rejected": "rejected"}
# WeChat may fetch the image up to 30 minutes after the submission: its URL outlives that.
CHECK_URL_TTL = 3600
# The store did not take the files: when the member may retry (the kit waits this out and sends the upload again).
STORE_RETRY_AFTER = 5


DECODER_NICENESS = 10  # how much lower than the API's the decoding threads' CPU priority is


def _lower_priority() -> None:
    """A decoding thread yields the CPU to the event loop and the database: an upload waits a little longer
    rather than every feed read beside it (the feed's p99 beside uploads, benchmarks/RESULTS.md). Linux sets a
    nice value per thread; where it cannot, the thread keeps its priority."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), DECODER_NICENESS)


@functools.lru_cache(maxsize=1)
def _decoders(count: int) -> ThreadPoolExecutor:
    # Photos decoded at once in this process: more would only queue for the same cores and hold their memory.
    return ThreadPoolExecutor(count, thread_name_prefix="media-decoder", initializer=_lower_priority)


def _buckets(user_id: int) -> tuple[str, str]:
    return f"media-minute:{user_id}", f"media-day:{user_id}"


async def _limit(conn: asyncpg.Connection, settings: Settings, user_id: int) -> None:
    minute, day = _buckets(user_id)
    detail = f"at most {settings.media_uploads_per_minute} photos a minute"
    await ratelimit.hit(conn, {minute: settings.media_uploads_per_minute}, 60, detail)
    detail = f"at most {settings.media_uploads_per_day} photos a day"
    await ratelimit.hit(conn, {day: settings.media_uploads_per_day}, 86400, detail)


@contextlib.asynccontextmanager
async def _storage_failure(pool: asyncpg.Pool, user_id: int) -> AsyncIterator[None]:
    """The store did not take the files (down, 5xx, timeout, bucket missing): nothing was recorded (the upload's
    transaction rolled back, its key is not kept), so the attempt is taken back from the limits and the member
    told to retry: 503 `not_ready` with Retry-After, never a 500."""
    try:
        yield
    except StorageUnavailable as exc:
        log.warning("photo storage unavailable", extra={"userId": user_id, "error": str(exc)})
        async with pool.acquire() as conn:
            for bucket in _buckets(user_id):
                await ratelimit.refund(conn, bucket)
        raise Problem("not_ready", "photo storage is unavailable: retry", retry_after=STORE_RETRY_AFTER) from None


async def _store(settings: Settings, storage: Storage, data: bytes) -> Processed:
    """Decode off the event loop, then write both files. Files before rows: a row never points at a missing
    file; the same content always has the same keys, so writing it again is harmless."""
    try:
        decoders = _decoders(settings.media_decoders)
        processed = await asyncio.get_running_loop().run_in_executor(decoders, process, data, settings.media_max_pixels)
    except Refused as refused:
        raise Problem(refused.code, refused.detail) from None
    await storage.put(processed.key, processed.display, processed.mime_type)
    await storage.put(processed.thumbnail_key, processed.thumbnail, processed.mime_type)
    return processed


async def to_media(storage: Storage, row: Any) -> m.Media:
    return m.Media(
        id=row["id"],
        status=SHOWN_STATUS[row["check_status"]],  # type: ignore[arg-type]
        purpose=row["purpose"],
        width=row["width"],
        height=row["height"],
        bytes=row["bytes"],
        mime_type=row["mime_type"],
        url=await storage.url(row["storage_key"]),
        thumbnail_url=await storage.url(row["thumbnail_key"]),
        url_expires_at=datetime.now(UTC) + timedelta(seconds=storage.ttl),
        created_at=row["created_at"],
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def upload(
    pool: asyncpg.Pool,
    settings: Settings,
    storage: Storage,
    user_id: int,
    data: bytes,
    purpose: str,
    key: str | None = None,
) -> Response[bytes]:
    """Store a member's photo and ask WeChat to check it; nothing is stored for a file we refuse. With an
    Idempotency-Key, a retry of the same file answers the upload made first (one row), the same key with another
    file `idempotency_key_reused`."""
    if len(data) > settings.media_max_bytes:
        raise Problem("media_too_large", f"{len(data)} bytes; at most {settings.media_max_bytes}")
    # Off the event loop: hashing 3 MB takes milliseconds, and hashlib lets go of the GIL meanwhile.
    source = await asyncio.to_thread(_sha256, data)
    scope = scope_of("media.upload", source, purpose)
    # One connection for the checks, given back before the decoding and the store's writes, one for the
    # transaction: a single connection at a time, never one held while waiting for another.
    async with pool.acquire() as conn:
        # A retry whose first answer was lost: answered before the rate limit and the decoding, neither again.
        if (replayed := await replay(conn, user_id, key, scope)) is not None:
            return replayed
        await _limit(conn, settings, user_id)
        known = await conn.fetchval(q.OBJECT_BY_SOURCE, source)
    processed: Processed | None = None
    created: list[int] = []  # the upload this request made (none when a twin's answer is replayed)

    async def action() -> tuple[int, m.Media]:
        nonlocal processed
        sha = known and await conn.fetchval(q.LOCK_OBJECT, known)
        if not sha:
            processed = processed or await _store(settings, storage, data)  # cleaned up in between: decode after all
            sha = processed.sha256
            object_row = (
                processed.key,
                processed.thumbnail_key,
                processed.mime_type,
                processed.width,
                processed.height,
            )
            await conn.execute(q.INSERT_OBJECT, sha, *object_row, len(processed.display))
            await conn.fetchval(q.LOCK_OBJECT, sha)
        media_id = await conn.fetchval(q.INSERT_MEDIA, user_id, sha, source, len(data), purpose)
        await enqueue(conn, q.CHECK_KIND, {"sha256": sha}, dedupe_key=f"media-check:{sha}", max_attempts=8)
        row = await conn.fetchrow(q.MEDIA_BY_ID, media_id)
        created.append(media_id)
        return 201, await to_media(storage, row)

    async with _storage_failure(pool, user_id):
        processed = None if known else await _store(settings, storage, data)
        # One transaction for the key, the rows and the check's job (run_once holds the account first: erased
        # while the photo was stored, no upload is left behind); a concurrent twin with the same key waits for it
        # and answers what it stored.
        async with pool.acquire() as conn:
            answer = await run_once(conn, user_id, key, scope, action)
    for media_id in created:  # logged once committed
        log.info("photo uploaded", extra={"mediaId": media_id, "bytes": len(data), "reused": processed is None})
    return answer


async def read(conn: asyncpg.Connection, storage: Storage, media_id: int, user_id: int) -> m.Media:
    row = await conn.fetchrow(q.MEDIA_BY_ID, media_id)
    # Until a photo is used somewhere, it is its uploader's alone; anyone else learns nothing of it.
    if row is None or row["owner_id"] != user_id:
        raise Problem("not_found", "no such media")
    return await to_media(storage, row)


# -- WeChat's check --------------------------------------------------------------------------------------------


async def submit_check(
    pool: asyncpg.Pool, settings: Settings, storage: Storage, wechat: WeChatClient, sha: str
) -> None:
    """Send a pending image to media_check_async with a URL WeChat can fetch; its verdict is pushed later."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(q.TO_CHECK, sha)
    if row is None or row["status"] != "pending":
        return  # deleted, or decided meanwhile
    if row["check_attempts"] >= settings.media_check_max_attempts:
        log.warning("image check gave up", extra={"sha256": sha, "attempts": row["check_attempts"]})
        return
    url = await storage.url(row["storage_key"], CHECK_URL_TTL)
    trace_id = await wechat.check_media(row["openid"], m.SCENES[row["purpose"]], url)  # type: ignore[arg-type]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(q.LOCK_TRACE, trace_id)
        await conn.execute(q.SUBMITTED, trace_id, sha)
        early = await conn.fetchrow(q.TAKE_EARLY_VERDICT, trace_id)
        if early is not None:  # WeChat answered before this submission was stored
            await apply_verdict(conn, MediaVerdict(trace_id, early["suggest"] or "", early["label"]))
    log.info("image check submitted", extra={"sha256": sha, "traceId": trace_id, "earlyVerdict": early is not None})


async def apply_verdict(conn: asyncpg.Connection, verdict: MediaVerdict) -> None:
    """The `wxa_media_check` push, in its receiver's transaction: the first answer to a submission counts; a
    duplicate, or one for an image already decided, changes nothing. One for a submission not stored yet (the
    push beat the worker's insert) is kept for it: submit_check applies it."""
    await conn.execute(q.LOCK_TRACE, verdict.trace_id)
    sha = await conn.fetchval(q.ANSWERED, verdict.trace_id, verdict.suggest or None)
    if sha is None:
        if not await conn.fetchval(q.TRACE_KNOWN, verdict.trace_id):
            await conn.execute(q.KEEP_EARLY_VERDICT, verdict.trace_id, verdict.suggest or None, verdict.label)
            log.info("image verdict before its submission was stored: kept", extra={"traceId": verdict.trace_id})
            return
        log.info("image verdict ignored (duplicate)", extra={"traceId": verdict.trace_id})
        return
    if verdict.suggest not in ("pass", "review", "risky"):
        return  # WeChat could not check it (e.g. it could not fetch the URL): re-submitted later
    status = await conn.fetchval(q.DECIDED, sha, verdict.suggest, verdict.label)
    log.info("image verdict", extra={"sha256": sha, "suggest": verdict.suggest, "status": status})
    if status is not None:  # what waited for this image (a post) is shown or refused in this transaction
        await hooks.media_decided(conn, MediaDecided(sha, status, verdict.label))


async def resubmit_stale(pool: asyncpg.Pool, settings: Settings) -> int:
    """Queue a new check for every image whose verdict has not come after MEDIA_CHECK_RESUBMIT_AFTER."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(q.STALE_CHECKS, settings.media_check_max_attempts, settings.media_check_resubmit_after)
        for row in rows:
            sha = row["sha256"]  # a check running now is that check: no second one after it
            await enqueue(conn, q.CHECK_KIND, {"sha256": sha}, dedupe_key=f"media-check:{sha}", again=False)
    return len(rows)


async def delete_unattached(pool: asyncpg.Pool, settings: Settings, storage: Storage) -> int:
    """Delete uploads never used after MEDIA_UNATTACHED_HOURS, and the files no upload refers to any more."""
    async with pool.acquire() as conn, conn.transaction():
        gone = await conn.fetch(q.EXPIRED_UPLOADS, settings.media_unattached_hours)
        await conn.execute(q.FORGET_EARLY_VERDICTS)  # verdicts for no submission of ours (or one long gone)
    files = await delete_orphans(pool, storage)
    if gone:
        log.info("unused uploads deleted", extra={"uploads": len(gone), "files": files})
    return len(gone)


async def delete_orphans(pool: asyncpg.Pool, storage: Storage) -> int:
    """Delete the stored files of the contents no upload refers to any more (uploads expired, or deleted with
    what showed them: `release_images` queues this at once). Their rows go first: a file is never missing
    under a row."""
    files = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            orphans = await conn.fetch(q.ORPHANS)
        for row in orphans:
            await storage.delete(row["storage_key"])
            await storage.delete(row["thumbnail_key"])
        files += 2 * len(orphans)
        if len(orphans) < q.ORPHANS_BATCH:
            return files
