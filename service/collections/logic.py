"""The rules of group collections.

A member (or only an admin, per the community's `collections_by`) starts a collection: a title, an amount per
participant, the participants (every other active member, or a chosen list) and a deadline. Participants pay
their share through checkout (purpose `collection_share`, one payable order each). Every change of a
collection's state or money happens under its row lock:

- `_on_paid` (in the payment's transaction) counts a share paid before the deadline while the collection is
  open or being settled and its initiator an active member; anything else (cancelled, settled, paid late, the
  initiator gone) is refused and checkout refunds it.
- `cancel` (initiator or admin, while open) refunds every paid share through `refund_order`.
- The money goes only to an initiator who is still an active member: while they are not (left, removed, account
  erased) no share is taken, and a settlement that finds them gone cancels the collection instead
  (`cancel_cause = 'initiator_left'`) and refunds every payer. Leaving pauses a collection rather than ending
  it: an initiator back by the deadline is paid out as before.
- `settle` (the `collections.settle` job, at the deadline) runs in steps that are each safe to repeat, so a
  worker killed at any point is simply resumed by the next one: mark the collection settling; close every
  share order still payable (at WeChat first: a payment made at the last moment is applied instead); then in
  one transaction expire the unpaid shares and promise one merchant transfer of the collected money to the
  initiator (`create_transfer(dedupe_key="collection:{id}")`, so it exists once whatever happens), or, the
  initiator gone, cancel it and refund every payer.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
from litestar import Response

from service.collections import models as m
from service.collections import queries as q
from service.core import money as checkout
from service.core.access import ADMIN_ROLES, require_member, require_not_muted
from service.core.apps import require_app_member
from service.core.blocks import refuse_if_blocked
from service.core.content import require_passed
from service.core.idempotency import replay, run_once, scope_of
from service.core.inbox import Item, deliver
from service.core.money.models import Order
from service.core.money.purposes import PaidOrder, Purpose, RefundInfo, Refuse, TransferInfo
from service.core.paging import fetch_page
from service.core.rows import from_row, lock_in_community
from service.errors import FieldError, Problem
from service.jobs import enqueue
from service.settings import Settings
from service.wechat.client import WeChatClient
from service.wechat.pay import WeChatPay

log = logging.getLogger("service.collections")


# Switched off, no collection starts and no share is paid; what was paid still settles or is refunded.
APP = "collections"
PURPOSE = "collection_share"
# An order created with less time than this before the deadline could not be paid in time.
MIN_TIME_TO_PAY = timedelta(seconds=60)
SWEEP_BATCH = 500
# Why a share is refused, and a collection cancelled at settlement, when its initiator left or was removed.
INITIATOR_LEFT = "the initiator is no longer a member of the community"


def _now() -> datetime:
    return datetime.now(UTC)


def _invalid(field: str, message: str) -> Problem:
    return Problem("validation_failed", message, errors=[FieldError(field=field, message=message, source="body")])


# --- reading -------------------------------------------------------------------------------------------


def _collection(row: asyncpg.Record, participants: list[m.Participant] | None = None) -> m.Collection:
    share = None
    if row["my_status"] is not None:
        order_id = row["my_order_id"]
        share = m.MyShare(status=row["my_status"], order_id=None if order_id is None else str(order_id))
    return from_row(m.Collection, row, my_share=share, participants=participants)


async def _detail(conn: asyncpg.Connection, collection_id: int, viewer_id: int) -> m.Collection:
    row = await conn.fetchrow(q.COLLECTION, collection_id, viewer_id)
    participants = [
        m.Participant(
            user_id=str(p["user_id"]),
            nickname=p["nickname"],
            avatar_url=p["avatar_url"],
            status=p["status"],
            paid_at=p["paid_at"],
        )
        for p in await conn.fetch(q.PARTICIPANTS, collection_id)
    ]
    return _collection(row, participants)


async def get_collection(conn: asyncpg.Connection, collection_id: int, user_id: int) -> m.Collection:
    """Progress (who paid, the total) for the members of the collection's community."""
    row = await conn.fetchrow(q.COLLECTION, collection_id, user_id)
    if row is None:
        raise Problem("not_found", "no such collection")
    await require_member(conn, row["community_id"], user_id)
    return await _detail(conn, collection_id, user_id)


async def list_collections(
    conn: asyncpg.Connection, community_id: int, user_id: int, status: str | None, limit: int, cursor: str | None
) -> m.CollectionPage:
    await require_app_member(conn, community_id, user_id, APP)
    items, next_cursor = await fetch_page(
        conn, q.COLLECTIONS, community_id, user_id, status, limit=limit, cursor=cursor, item=_collection, key=("id",)
    )
    return m.CollectionPage(items=items, next_cursor=next_cursor)


# --- starting ------------------------------------------------------------------------------------------


def _deadline(settings: Settings, asked: datetime | None) -> datetime:
    now = _now()
    if asked is None:
        return now + timedelta(hours=settings.collection_default_hours)
    if asked < now + timedelta(minutes=m.MIN_DURATION_MINUTES):
        raise _invalid("deadline", f"must be at least {m.MIN_DURATION_MINUTES} minutes from now")
    if asked > now + timedelta(hours=settings.collection_max_hours):
        raise _invalid("deadline", f"must be within {settings.collection_max_hours} hours from now")
    return asked


async def _participants(
    conn: asyncpg.Connection, community_id: int, initiator_id: int, chosen: list[str] | None
) -> list[int]:
    if chosen is None:  # members who blocked the initiator are left out, as from any notice of theirs
        ids = [row["user_id"] for row in await conn.fetch(q.OTHER_ACTIVE_MEMBERS, community_id, initiator_id)]
        if not ids:
            raise _invalid("participantIds", "the community has no other active member to collect from")
        return ids
    ids = sorted({int(user_id) for user_id in chosen})
    if initiator_id in ids:
        raise _invalid("participantIds", "the initiator receives the money and is not a participant")
    found = {row["user_id"] for row in await conn.fetch(q.ACTIVE_MEMBERS_AMONG, community_id, ids)}
    if missing := [str(user_id) for user_id in ids if user_id not in found]:
        raise _invalid("participantIds", f"not active members of the community: {', '.join(missing)}")
    # Named, a member who blocked the initiator is refused as a mention of them is (docs/safety.md): a block keeps
    # the blocked member from pulling the blocker into anything of theirs.
    await refuse_if_blocked(conn, initiator_id, ids, "collect from")
    return ids


async def _may_start(conn: asyncpg.Connection, community_id: int, user_id: int) -> None:
    standing = await require_app_member(conn, community_id, user_id, APP)
    if await conn.fetchval(q.COLLECTIONS_BY, community_id) == "admins" and standing["role"] not in ADMIN_ROLES:
        raise Problem("forbidden", "in this community only admins start collections")
    # The title reaches every participant's inbox: speech to others, which an admin's mute stops.
    require_not_muted(standing)
    # Only an active member is paid out: the brand's team stands here without joining (core/access.py), and a
    # collection of theirs could only answer initiator_left to every payer and be cancelled at its deadline.
    if await conn.fetchval(q.MEMBERSHIP_STATUS, community_id, user_id) != "active":
        raise Problem("not_member", "join the community first: only a member is paid out")


async def create_collection(
    pool: asyncpg.Pool,
    wechat: WeChatClient,
    settings: Settings,
    community_id: int,
    user_id: int,
    data: m.CollectionCreate,
    key: str | None,
) -> Response[bytes]:
    title = data.title.strip()
    if not title:
        raise _invalid("title", "must not be blank")
    scope = scope_of("collection.create", community_id, msgspec.to_builtins(data))
    async with pool.acquire() as conn:
        # A retry answers what the first started, before the deadline (nearer now) or WeChat is asked again.
        if (replayed := await replay(conn, user_id, key, scope)) is not None:
            return replayed
        await _may_start(conn, community_id, user_id)  # WeChat checks only the text of who may start one
    deadline = _deadline(settings, data.deadline)
    # The title reaches every participant's inbox and each share's WeChat Pay description.
    await require_passed(pool, wechat, user_id, title, "title")

    async def action() -> tuple[int, m.Collection]:
        await _may_start(conn, community_id, user_id)
        participants = await _participants(conn, community_id, user_id, data.participant_ids)
        if data.amount_fen * len(participants) > m.TOTAL_MAX_FEN:
            message = f"{len(participants)} participants x {data.amount_fen} fen exceeds {m.TOTAL_MAX_FEN} fen"
            raise _invalid("amountFen", message)
        collection_id = await conn.fetchval(
            q.INSERT_COLLECTION, community_id, user_id, title, data.amount_fen, deadline, len(participants)
        )
        await conn.execute(q.INSERT_PARTICIPANTS, collection_id, participants)
        asked = {"title": title, "amountFen": str(data.amount_fen), "deadline": deadline.isoformat()}
        await deliver(
            conn, Item(participants, "collection_asked", "collection", collection_id, community_id, user_id, asked)
        )
        await enqueue(
            conn,
            "collections.settle",
            {"collection_id": collection_id},
            run_at=deadline,
            dedupe_key=f"collections.settle:{collection_id}",
        )
        return 201, await _detail(conn, collection_id, user_id)

    async with pool.acquire() as conn:
        return await run_once(conn, user_id, key, scope, action)


# --- paying --------------------------------------------------------------------------------------------


async def pay_share(
    pool: asyncpg.Pool, pay: WeChatPay, settings: Settings, collection_id: int, user_id: int, key: str | None
) -> Response:
    """The participant's order for their share: 201 new, 200 the still-payable one. No connection is held
    while WeChat is called. A retry with the Idempotency-Key of a request that answered replays that answer before
    anything is checked again: once the share is paid, the collection closed or the initiator gone, the checks
    below would refuse the very request that succeeded."""
    scope = scope_of("collection.pay", collection_id)
    async with pool.acquire() as conn:
        if (replayed := await replay(conn, user_id, key, scope)) is not None:
            return replayed
        collection = await conn.fetchrow(q.COLLECTION, collection_id, user_id)
        if collection is None:
            raise Problem("not_found", "no such collection")
        await require_app_member(conn, collection["community_id"], user_id, APP)
        share = await conn.fetchrow(q.PARTICIPANT, collection_id, user_id)
    if share is None:
        raise Problem("not_participant")
    if share["status"] == "paid":
        raise Problem("share_already_paid")
    left = collection["deadline"] - _now()
    if collection["status"] != "open" or left < MIN_TIME_TO_PAY:
        raise Problem("collection_closed", f"payments closed at {collection['deadline'].isoformat()}")
    if not collection["initiator_active"]:
        raise Problem("initiator_left", INITIATOR_LEFT)
    placed = await checkout.create_order(
        pool,
        pay,
        settings,
        payer_user_id=user_id,
        purpose=PURPOSE,
        subject_id=collection_id,
        community_id=collection["community_id"],
        amount_fen=collection["amount_fen"],
        description=f"群收款「{collection['title']}」",
        idempotency_key=key,
        pay_within=left.total_seconds(),  # WeChat stops taking the payment at the deadline
    )
    order = placed.order
    if order.purpose != PURPOSE or order.subject_id != str(collection_id):
        raise Problem("idempotency_key_reused")
    answer = (201 if placed.created else 200), order

    async def stored() -> tuple[int, Order]:
        return answer

    async with pool.acquire() as conn:  # kept for a retry (a concurrent one answers what the first stored)
        return await run_once(conn, user_id, key, scope, stored)


async def _lock(conn: asyncpg.Connection, collection_id: int) -> asyncpg.Record | None:
    """The collection, locked (None when there is no such collection)."""
    return await lock_in_community(conn, q.COLLECTION_COMMUNITY, q.LOCK_COLLECTION, collection_id)


async def initiator_active(conn: asyncpg.Connection, collection: asyncpg.Record) -> bool:
    """Whether the initiator is an active member of the collection's community, read under a share lock on the
    membership (the caller holds the collection's lock): only such an initiator is paid out."""
    status = await conn.fetchval(q.INITIATOR_STANDING, collection["community_id"], collection["initiator_id"])
    return status == "active"


async def _on_paid(conn: asyncpg.Connection, order: PaidOrder) -> Refuse | None:
    """In the payment's transaction: count the share, or refuse it (checkout then refunds it in full)."""
    collection = await _lock(conn, order.subject_id)
    if collection is None:
        return Refuse("collection_closed", "no such collection")
    if collection["status"] == "cancelled":
        return Refuse("collection_cancelled", "the collection was cancelled")
    if collection["status"] == "settled":
        return Refuse("collection_closed", "the collection was settled before this payment arrived")
    if order.paid_at is not None and order.paid_at > collection["deadline"]:
        return Refuse("collection_closed", "paid after the deadline")
    if not await initiator_active(conn, collection):
        # The order was placed before they left: the money would go to someone no longer in the community.
        return Refuse("initiator_left", INITIATOR_LEFT)
    share = await conn.fetchrow(q.LOCK_PARTICIPANT, collection["community_id"], order.subject_id, order.payer_user_id)
    if share is None:
        return Refuse("not_participant", "the payer is not a participant")
    if share["status"] != "unpaid":
        return Refuse("share_already_paid", "this share was already paid")
    await conn.execute(q.MARK_SHARE_PAID, order.subject_id, order.payer_user_id, order.id, order.paid_at)
    await conn.execute(q.ADD_PAID, order.subject_id, 1, order.amount_fen)
    return None


async def _on_refund(conn: asyncpg.Connection, order: PaidOrder, refund: RefundInfo) -> None:
    """A share refunded by a cancel no longer counts."""
    await _lock(conn, order.subject_id)
    if await conn.fetchval(q.MARK_SHARE_REFUNDED, order.subject_id, order.id) is not None:
        await conn.execute(q.ADD_PAID, order.subject_id, -1, -order.amount_fen)


async def _on_transfer(conn: asyncpg.Connection, transfer: TransferInfo) -> None:
    """The payout reached a final state (succeeded; failed or cancelled: unconfirmed for 24 hours)."""
    await conn.execute(q.SET_PAYOUT, transfer.subject_id, transfer.id, transfer.status)
    log.info("collection payout finished", extra={"collectionId": transfer.subject_id, "status": transfer.status})


async def _no_payer_refunds(conn: asyncpg.Connection, order: PaidOrder) -> None:
    # A participant does not take a share back alone: the initiator or an admin cancels the collection.
    return None


# What a payment of this purpose means (declared by the domain; see service/core/money/purposes.py).
SHARE_PURPOSE = Purpose(
    PURPOSE,
    on_paid=_on_paid,
    on_refund=_on_refund,
    on_transfer=_on_transfer,
    payer_refund_window=_no_payer_refunds,
)
