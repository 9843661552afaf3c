"""Free-trial qualifications (granted at a poll's close, see closing.py) and the holders' feedback.

A qualification is granted -> claimed (the holder leaves a delivery note) -> shipped (an admin). One that is
not claimed by `expires_at` is expired: it reads as expired at once, and a job writes it down. One claimed but not
shipped when its holder's account is erased is void (privacy.py): nothing more happens to it. While an admin has
removed its holder from the poll's community it is neither claimed nor shipped (`trial_holder_removed`); leaving by
oneself changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

import asyncpg
from litestar import Response

from service.core.access import access_row, check_can_post, require_admin
from service.core.content import openid_of, status_for
from service.core.idempotency import replay, run_once, scope_of
from service.core.inbox import Item, deliver
from service.core.interactions import record
from service.core.media import claim_images, images_of, images_state
from service.core.paging import fetch_page
from service.core.revocation import hold_account
from service.core.rows import from_row, lock_in_community
from service.errors import Problem
from service.polls import models as m
from service.polls import points
from service.polls import queries as q
from service.polls import trial_queries as tq
from service.polls.closing import TRIAL_CLOSING_LEAD
from service.polls.common import audit, poll_state
from service.wechat.client import WeChatClient


def _status(row: asyncpg.Record) -> str:
    return "expired" if row["status"] == "granted" and row["past_deadline"] else row["status"]


async def _trial(conn: asyncpg.Connection, trial_id: int) -> m.Trial:
    return from_row(m.Trial, await conn.fetchrow(tq.TRIAL, trial_id))


async def _locked_trial(conn: asyncpg.Connection, trial_id: int) -> asyncpg.Record | None:
    return await lock_in_community(conn, tq.TRIAL_COMMUNITY, tq.LOCK_TRIAL, trial_id)


async def _locked_against_removal(conn: asyncpg.Connection, trial_id: int) -> asyncpg.Record | None:
    """The trial, locked, after a share lock on its community that a removal waits for (and waits on), for
    _check_holder_not_removed: no removal commits between that check and the claim or shipment. The community first,
    as the removal takes it: the two never deadlock."""
    community_id = await conn.fetchval(tq.TRIAL_COMMUNITY, trial_id)
    if community_id is None:
        return None
    await conn.execute(tq.SHARE_COMMUNITY, community_id)
    return await conn.fetchrow(tq.LOCK_TRIAL, community_id, trial_id)


def _held_by(row: asyncpg.Record | None, user_id: int) -> asyncpg.Record:
    """The trial row, if there is one and `user_id` holds it."""
    if row is None:
        raise Problem("not_found", "no such free trial")
    if row["user_id"] != user_id:
        raise Problem("not_trial_holder")
    return row


async def _holder_trial(conn: asyncpg.Connection, trial_id: int, user_id: int) -> asyncpg.Record:
    """The holder's trial, locked."""
    return _held_by(await _locked_trial(conn, trial_id), user_id)


def _voided(row: asyncpg.Record) -> Problem:
    return Problem("trial_void", f"the trial ended: {row['void_reason']}")


async def _check_holder_not_removed(conn: asyncpg.Connection, trial: asyncpg.Record) -> None:
    """A trial rewards membership: a holder an admin removed (for abuse, say) neither claims it nor has it shipped,
    unless an admin lets them back. One who left by themselves keeps what they earned. The caller holds the
    community's share lock (_locked_against_removal)."""
    standing = await access_row(conn, trial["community_id"], trial["user_id"])
    if standing["status"] == "removed":
        raise Problem("trial_holder_removed")


def _require_received(row: asyncpg.Record) -> None:
    """Feedback needs a claimed (or shipped) trial."""
    status = _status(row)
    if status == "void":
        raise _voided(row)
    if status == "expired":
        raise Problem("trial_expired")
    if status == "granted":
        raise Problem("trial_not_claimed")


_trial_item = partial(from_row, m.Trial)
REVIEW_LABEL = 21000


async def my_trials(conn: asyncpg.Connection, user_id: int, limit: int, cursor: str | None) -> m.TrialPage:
    items, next_cursor = await fetch_page(conn, tq.MY_TRIALS, user_id, limit=limit, cursor=cursor, item=_trial_item)
    return m.TrialPage(items=items, next_cursor=next_cursor)


async def poll_trials(
    conn: asyncpg.Connection, poll_id: int, admin_id: int, limit: int, cursor: str | None
) -> m.TrialPage:
    state = await poll_state(conn, poll_id)
    await require_admin(conn, state["community_id"], admin_id)
    items, next_cursor = await fetch_page(conn, tq.POLL_TRIALS, poll_id, limit=limit, cursor=cursor, item=_trial_item)
    return m.TrialPage(items=items, next_cursor=next_cursor)


async def claim(conn: asyncpg.Connection, trial_id: int, user_id: int, data: m.TrialClaim) -> m.Trial:
    """Claim before the deadline with a delivery note; claiming again before shipping updates the note."""
    note = data.delivery_note.strip()
    if not note:
        raise Problem("validation_failed", "the delivery note must not be blank")
    async with conn.transaction():
        # The note is an address: none is written under an account erased since the token was checked (the erasure
        # voids a claimed trial, which a claim committed after it would bring back, to be shipped to nobody).
        await hold_account(conn, user_id)
        trial = _held_by(await _locked_against_removal(conn, trial_id), user_id)
        status = _status(trial)
        if status == "void":  # a claim would bring it back
            raise _voided(trial)
        if status == "expired":
            raise Problem("trial_expired")
        if status == "shipped":
            raise Problem("trial_already_shipped")
        await _check_holder_not_removed(conn, trial)
        await conn.execute(tq.CLAIM_TRIAL, trial_id, note)
        action = "trial.claimed" if status == "granted" else "trial.note_changed"
        await audit(conn, trial["poll_id"], user_id, action, subject_id=user_id)
    return await _trial(conn, trial_id)


async def ship(conn: asyncpg.Connection, trial_id: int, admin_id: int, data: m.TrialShipment) -> m.Trial:
    """Admins mark a claimed trial shipped; marking it again changes nothing."""
    async with conn.transaction():
        trial = await _locked_against_removal(conn, trial_id)
        if trial is None:
            raise Problem("not_found", "no such free trial")
        await require_admin(conn, trial["community_id"], admin_id)
        status = _status(trial)
        if status == "void":  # its holder's account was erased, and the delivery note with it: nobody to ship to
            raise _voided(trial)
        if status == "expired":
            raise Problem("trial_expired")
        if status == "granted":
            raise Problem("trial_not_claimed")
        if status == "claimed":
            await _check_holder_not_removed(conn, trial)
            await conn.execute(tq.SHIP_TRIAL, trial_id, admin_id, data.shipping_note.strip())
            await audit(conn, trial["poll_id"], admin_id, "trial.shipped", subject_id=trial["user_id"])
            shipped = Item(trial["user_id"], "trial_shipped", "trial", trial_id, trial["community_id"], admin_id)
            await deliver(conn, shipped)
    return await _trial(conn, trial_id)


async def expire_due(conn: asyncpg.Connection, poll_id: int) -> datetime | None:
    """Write down the expiry of a poll's unclaimed qualifications past their deadline, refund the redeemed ones
    (points.refund_expired); the next deadline of those still open, if any."""
    async with conn.transaction():
        for row in await conn.fetch(tq.EXPIRE_DUE_TRIALS, poll_id):
            await audit(conn, poll_id, None, "trial.expired", subject_id=row["user_id"])
        community_id = await conn.fetchval(q.POLL_COMMUNITY, poll_id)
        if community_id is not None:
            await points.refund_expired(conn, poll_id, community_id)
        return await conn.fetchval(tq.NEXT_TRIAL_DEADLINE, poll_id)


# --- feedback ----------------------------------------------------------------------------------------------


async def give_feedback(
    pool: asyncpg.Pool,
    wechat: WeChatClient,
    trial_id: int,
    user_id: int,
    data: m.FeedbackCreate,
    key: str | None,
) -> Response[bytes]:
    """The holder of a claimed or shipped trial rates it (1-5) with optional text and images, once.
    The text is content-checked (it may be shared to the feed) without holding a connection meanwhile."""
    text = data.text.strip()
    image_ids = [int(media_id) for media_id in data.image_ids]
    # `[]` where the removed imageUrls were: a retry across the upgrade keeps its scope.
    scope = scope_of("trial.feedback", trial_id, data.rating, text, [], image_ids)
    async with pool.acquire() as conn:
        if (replayed := await replay(conn, user_id, key, scope)) is not None:
            return replayed
        trial = _held_by(await conn.fetchrow(tq.TRIAL_STATE, trial_id), user_id)
        _require_received(trial)
        if trial["has_feedback"]:
            raise Problem("feedback_exists")
        openid = await openid_of(conn, user_id) if text else None
    status = await status_for(wechat, openid, text) if openid else "visible"
    verdict = "review" if status == "pending" else "pass"  # the feedback's contentStatus

    async def action() -> tuple[int, m.Feedback]:
        trial = await _holder_trial(conn, trial_id, user_id)
        _require_received(trial)
        if image_ids:
            await claim_images(conn, user_id, image_ids)
        feedback_id = await conn.fetchval(
            tq.INSERT_FEEDBACK,
            trial_id,
            trial["poll_id"],
            trial["community_id"],
            user_id,
            data.rating,
            text,
            verdict,
            image_ids,
        )
        if feedback_id is None:
            raise Problem("feedback_exists")
        details = {"rating": data.rating, "contentStatus": verdict}
        await audit(conn, trial["poll_id"], user_id, "feedback.given", subject_id=user_id, details=details)
        await record(conn, trial["community_id"], user_id, "feedback")
        row = await conn.fetchrow(tq.FEEDBACK, feedback_id)
        return 201, from_row(m.Feedback, row, images=images_of(row))

    async with pool.acquire() as conn:
        return await run_once(conn, user_id, key, scope, action)


async def poll_feedback(
    conn: asyncpg.Connection, poll_id: int, admin_id: int, limit: int, cursor: str | None
) -> m.FeedbackPage:
    state = await poll_state(conn, poll_id)
    await require_admin(conn, state["community_id"], admin_id)

    def feedback(row: asyncpg.Record) -> m.Feedback:
        return from_row(m.Feedback, row, images=images_of(row))

    items, next_cursor = await fetch_page(conn, tq.FEEDBACK_OF_POLL, poll_id, limit=limit, cursor=cursor, item=feedback)
    stats = await conn.fetchrow(tq.FEEDBACK_STATS, poll_id)
    return m.FeedbackPage(items=items, next_cursor=next_cursor, count=stats["count"], average_rating=stats["average"])


def feedback_post_text(rating: int, product: str, title: str, text: str) -> str:
    stars = "★" * rating + "☆" * (5 - rating)
    subject = product or title
    return f"{stars} 试用「{subject}」：{text}" if text else f"{stars} 试用「{subject}」"


async def share_feedback(conn: asyncpg.Connection, trial_id: int, user_id: int) -> Response[m.SharedPost]:
    """The holder shares their feedback to the community feed as their own post (kind `feedback`), once;
    sharing again answers the same post. The community's posting rules apply (muted members cannot)."""
    async with conn.transaction():
        trial = await _holder_trial(conn, trial_id, user_id)
        feedback = await conn.fetchrow(tq.LOCK_FEEDBACK_OF_TRIAL, trial_id, trial["community_id"])
        if feedback is None:
            raise Problem("no_feedback")
        if feedback["post_id"] is not None:
            return Response(_shared(await conn.fetchrow(tq.POST, feedback["post_id"])), status_code=200)
        community_id = trial["community_id"]
        await check_can_post(conn, community_id, user_id)
        text = feedback_post_text(feedback["rating"], feedback["trial_product"], feedback["title"], feedback["text"])
        # Text WeChat wanted reviewed stays pending in the feed too.
        status = "pending" if feedback["content_status"] == "review" else "visible"
        photos, _ = await images_state(conn, feedback["image_ids"])
        if photos != "approved":  # refused photos refuse the post; photos still being checked hold it
            status = "rejected" if photos == "rejected" else "pending"
        # A text held for review keeps the post held after its photos pass (label 21000: "other").
        label = REVIEW_LABEL if feedback["content_status"] == "review" else None
        post_id = await conn.fetchval(
            tq.INSERT_MEMBER_POST,
            community_id,
            user_id,
            text,
            feedback["image_urls"],
            status,
            feedback["image_ids"],
            label,
        )
        await conn.execute(tq.SET_FEEDBACK_POST, feedback["id"], post_id)
        await audit(
            conn, trial["poll_id"], user_id, "feedback.shared", subject_id=user_id, details={"postId": str(post_id)}
        )
        await record(conn, community_id, user_id, "post", post_id=post_id)
        return Response(_shared(await conn.fetchrow(tq.POST, post_id)), status_code=201)


def _shared(row: asyncpg.Record) -> m.SharedPost:
    return from_row(m.SharedPost, row, images=images_of(row))


async def remind_unclaimed(conn: asyncpg.Connection, poll_id: int, product: str) -> None:
    """A day before a claim deadline: every holder whose deadline it is and who has not claimed is told, once."""
    async with conn.transaction():
        for trial in await conn.fetch(tq.UNCLAIMED, poll_id, TRIAL_CLOSING_LEAD):
            data = {"pollId": str(poll_id), "product": product, "expiresAt": trial["expires_at"].isoformat()}
            closing = Item(
                trial["user_id"], "trial_closing", "trial", trial["id"], trial["community_id"], data=data, once=True
            )
            await deliver(conn, closing)
