"""The feed's jobs: rechecking held texts, sending notifications, the weekly digest, view counters.

Each is idempotent (a job may run twice): it re-reads the state and does only what is still missing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from service.core.content import COMMENT_SCENE, POST_SCENE, Verdict, judge
from service.core.media import images_state
from service.core.messaging import wechat_of
from service.core.rows import claim_each
from service.feed import digests, visibility
from service.feed import queries as q
from service.feed.digests import excerpt
from service.feed.locks import lock_comment, lock_post
from service.jobs import JobContext, Registry
from service.settings import Settings
from service.wechat.client import WeChatClient
from service.wechat.errors import WeChatError, WeChatUnavailable

JOBS = Registry()

log = logging.getLogger("service.feed")

RECHECK_EVERY = 30
RECHECK_BATCH = 20
RECHECK_LEASE = 120  # seconds a claimed check is left alone while WeChat is asked
RECHECK_MAX_ATTEMPTS = 30  # about a day with the backoff below; then the text stays pending for a person
RECHECK_BACKOFF_CAP = 3600
DIGEST_EVERY = 3600
VIEWS_EVERY = 60
VIEWS_OVERLAP = timedelta(minutes=5)  # events recorded by transactions still open at the last run


# --- recheck -------------------------------------------------------------------------------------------


async def recheck_pending(pool: asyncpg.Pool, wechat: WeChatClient, *, batch: int = RECHECK_BATCH) -> int:
    """Ask WeChat again about texts held while it was unavailable; returns how many were looked at."""
    async with pool.acquire() as conn:
        checks = await claim_each(conn, await conn.fetch(q.DUE_CHECKS, batch), q.CLAIM_CHECK, float(RECHECK_LEASE))
    for check in checks:
        verdict = None
        if check["text"] is not None and check["openid"] is not None:
            scene = POST_SCENE if check["post_id"] is not None else COMMENT_SCENE
            verdict = await judge(wechat, check["openid"], scene, check["text"])  # no connection held
        async with pool.acquire() as conn, conn.transaction():
            await _apply_recheck(conn, check, verdict)
    return len(checks)


async def _apply_recheck(conn: asyncpg.Connection, check: Any, verdict: Verdict | None) -> None:
    is_post = check["post_id"] is not None
    target = await (lock_post(conn, check["post_id"]) if is_post else lock_comment(conn, check["comment_id"]))
    if (
        verdict is None
        or target is None
        or target["deleted_at"] is not None
        or target["status"] != "pending"
        or target["text"] != check["text"]  # edited meanwhile: the edit queued its own check
    ):
        await conn.execute(q.DROP_CHECK, check["id"])
        return
    if verdict.outcome == "unchecked":
        attempts = check["attempts"]
        delay = 10**9 if attempts >= RECHECK_MAX_ATTEMPTS else min(RECHECK_BACKOFF_CAP, 30 * 2 ** (attempts - 1))
        await conn.execute(q.RETRY_CHECK, check["id"], float(delay), verdict.reason)
        return
    await conn.execute(q.DROP_CHECK, check["id"])
    status = {"pass": "visible", "review": "pending", "risky": "rejected"}[verdict.outcome]
    label = None if verdict.outcome == "pass" else verdict.label
    photos = target["image_ids"] if is_post else [target["image_id"]] if target["image_id"] else []
    if status == "visible" and (await images_state(conn, photos))[0] != "approved":
        status = "pending"  # the text passed; its photos are still being checked (the image verdict shows it)
    await conn.execute(q.SET_POST_STATUS if is_post else q.SET_COMMENT_STATUS, target["id"], status, label)
    if status == "visible":
        if is_post:
            await visibility.post_became_visible(conn, target)
        else:
            await visibility.comment_became_visible(conn, target)


@JOBS.job("feed.recheck", every=RECHECK_EVERY)
async def recheck(ctx: JobContext, payload: dict) -> None:
    while await recheck_pending(ctx.pool, wechat_of(ctx)) == RECHECK_BATCH:
        pass


# --- notifications -------------------------------------------------------------------------------------


async def send_notification(pool: asyncpg.Pool, wechat: WeChatClient, settings: Settings, notification_id: int) -> str:
    """Send one queued notification as a subscribe message; 43101 (no consent left) is recorded, never
    retried. WeChat unavailable raises, so the job is retried with backoff. Returns the final status."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(q.NOTIFICATION_TO_SEND, notification_id)
    if row is None or row["status"] != "queued":
        return row["status"] if row else "missing"
    if not row["shown"]:  # deleted, refused or hidden since, its recipient left or blocked the commenter: no message
        async with pool.acquire() as conn:
            await conn.execute(q.FINISH_NOTIFICATION, notification_id, "withdrawn", None)
        return "withdrawn"
    when = row["created_at"].astimezone(ZoneInfo(settings.metrics_timezone))
    data = {
        "thing1": excerpt(row["post_text"]) or "图片",
        "thing2": excerpt(row["actor"]) or "成员",
        "thing3": excerpt(row["comment_text"]),
        "time4": when.strftime("%Y-%m-%d %H:%M"),
    }
    page = f"{settings.notify_page}?postId={row['post_id']}"
    errcode = None
    try:
        result = await wechat.send_subscribe_message(row["openid"], settings.notify_template_id, data, page=page)
        status = "sent" if result.sent else "no_consent"
        errcode = result.errcode if not result.sent else None
    except WeChatUnavailable:
        raise
    except WeChatError as exc:
        if exc.code == "rate_limited":
            raise
        log.warning("subscribe message refused", extra={"notificationId": notification_id, "errcode": exc.errcode})
        status, errcode = "failed", exc.errcode
    async with pool.acquire() as conn:
        await conn.execute(q.FINISH_NOTIFICATION, notification_id, status, errcode)
    return status


@JOBS.job(visibility.NOTIFY_KIND)
async def notify(ctx: JobContext, payload: dict) -> None:
    await send_notification(ctx.pool, wechat_of(ctx), ctx.settings, int(payload["notification_id"]))


@JOBS.job("feed.digest", every=DIGEST_EVERY)
async def digest(ctx: JobContext, payload: dict) -> None:
    posted = await digests.weekly_digests(ctx.pool, ctx.settings)
    if posted:
        log.info("weekly digests posted", extra={"digests": posted})


# --- views ---------------------------------------------------------------------------------------------


async def refresh_view_counts(pool: asyncpg.Pool) -> None:
    """Bring the view counters of recently viewed posts up to the view events (exact, idempotent)."""
    async with pool.acquire() as conn, conn.transaction():
        started = datetime.now(UTC)
        since = await conn.fetchval(q.VIEW_WATERMARK) or datetime.fromtimestamp(0, UTC)
        await conn.execute(q.REFRESH_VIEW_COUNTS, since - VIEWS_OVERLAP)
        await conn.execute(q.SET_VIEW_WATERMARK, started)


@JOBS.job("feed.views", every=VIEWS_EVERY)
async def views(ctx: JobContext, payload: dict) -> None:
    await refresh_view_counts(ctx.pool)
