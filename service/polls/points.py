"""Free-trial places bought with check-in points (docs/polls.md, "Trial places for points").

Where a community's brand allows it (`brands.points_spendable`), its admins offer a naming poll's trial places at a
price in points; a member of the community redeems one with the points earned by check-ins in the brand's
communities. The balance is never stored: check-in points earned in the brand's communities minus the points spent
there (`point_spends`, one row per redeemed place) plus those refunded (`point_refunds`, one row per place that
expired unclaimed: the expiry job gives back its points and its place, see `refund_expired`).

Race-free, in one transaction per redemption:
- the poll row FOR UPDATE: redemptions of one poll queue, so places are counted (and positions given) exactly;
- then an advisory lock on (member, brand): every spend of the member in the brand, whatever the poll, reads the
  balance under it, so concurrent redemptions never spend the same points twice.
Locks are always taken in that order (one poll, then one member's balance), so redemptions cannot deadlock.

Redeemable from the poll's close (its winners and drawn voters hold their trials by then, so nobody pays for a
place they would have won) until its claim window ends (`closedAt + claimDays`). One qualification per member and
poll: asking again answers `trial_already_held` (with an Idempotency-Key, a retry replays the first 201).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from service.core.apps import require_app_member
from service.core.idempotency import run_once, scope_of
from service.core.inbox import Item, deliver
from service.core.rows import from_row
from service.errors import Problem
from service.jobs import enqueue
from service.polls import models as m
from service.polls import queries as q
from service.polls import trial_queries as tq
from service.polls.closing import TRIAL_CLOSING_LEAD
from service.polls.common import APP, audit, poll_state
from service.polls.logic import require_points_spendable

REDEEMED = "redeemed"


async def set_offer(conn: asyncpg.Connection, poll_id: int, admin_id: int, data: m.TrialPointsOffer) -> m.TrialPoints:
    """Admins offer (or change) the poll's trial places for points, where the brand allows spending points. The
    places may not go below those already redeemed; a new price applies to later redemptions."""
    async with conn.transaction():
        state = await poll_state(conn, poll_id, q.POLL_STATE_LOCKED)
        await require_app_member(conn, state["community_id"], admin_id, APP, admin=True)
        await require_points_spendable(conn, state["community_id"])
        redeemed = (await conn.fetchrow(q.COUNT_REDEEMED, poll_id, state["community_id"]))["held"]
        if data.places < redeemed:
            raise Problem("points_places_below_redeemed", f"{redeemed} places are already redeemed")
        await conn.execute(q.SET_TRIAL_POINTS, poll_id, data.price, data.places)
        details = {"price": data.price, "places": data.places}
        await audit(conn, poll_id, admin_id, "trial_points.offered", details=details)
        until = (await conn.fetchrow(q.POLL_FOR_REDEMPTION, poll_id, state["community_id"]))["redeemable_until"]
    return m.TrialPoints(
        price=data.price, places=data.places, places_left=data.places - redeemed, redeemable_until=until
    )


async def withdraw_offer(conn: asyncpg.Connection, poll_id: int, admin_id: int) -> None:
    """Admins stop selling places for points; places already redeemed stay (they are members' trials)."""
    async with conn.transaction():
        state = await poll_state(conn, poll_id, q.POLL_STATE_LOCKED)
        await require_app_member(conn, state["community_id"], admin_id, APP, admin=True)
        await conn.execute(q.SET_TRIAL_POINTS, poll_id, None, None)
        await audit(conn, poll_id, admin_id, "trial_points.withdrawn")


async def redeem(conn: asyncpg.Connection, poll_id: int, user_id: int, key: str | None):
    """A member of the poll's community spends points on one of its trial places: 201 with the qualification."""

    async def action() -> tuple[int, m.Trial]:
        # Who may ask is settled before any lock: a stranger learns nothing and queues behind nobody.
        state = await poll_state(conn, poll_id)
        community_id = state["community_id"]
        # A trial is for the community's members: the brand's team stands there member or not, and buys no place.
        if not await conn.fetch(q.ACTIVE_MEMBERS_AMONG, community_id, [user_id]):
            raise Problem("not_member", "trial places are for the community's members")
        await require_app_member(conn, community_id, user_id, APP)
        brand = await require_points_spendable(conn, community_id)
        poll = await conn.fetchrow(q.POLL_FOR_REDEMPTION, poll_id, community_id)
        if poll["trial_points_price"] is None:
            raise Problem("no_points_offer")
        if not poll["redeemable"]:
            if poll["status"] != "closed":
                raise Problem("trial_redemption_closed", "places are redeemed once the poll has closed")
            until = poll["redeemable_until"].isoformat()
            raise Problem("trial_redemption_closed", f"places could be redeemed until {until}")
        held = await conn.fetchval(q.MY_QUALIFICATION, poll_id, user_id)
        if held is not None:
            raise Problem("trial_already_held", f"you hold free trial {held} of this poll")
        redeemed = await conn.fetchrow(q.COUNT_REDEEMED, poll_id, community_id)
        if redeemed["held"] >= poll["trial_points_places"]:
            raise Problem("no_places_left", f"all {poll['trial_points_places']} places are taken")
        brand_id, price = brand["brand_id"], poll["trial_points_price"]
        await conn.execute(q.LOCK_MEMBER_POINTS, user_id, brand_id)
        # Read after the lock: READ COMMITTED shows every spend committed by whoever held it before.
        available = await conn.fetchval(q.EARNED_POINTS, user_id, brand_id) - await _spent(conn, user_id, brand_id)
        if available < price:
            raise Problem("not_enough_points", f"the place costs {price} points; you have {available}")
        granted = await conn.fetchrow(q.INSERT_REDEEMED, poll_id, user_id, redeemed["sold"] + 1)
        if granted is None:  # unreachable under the poll's lock; the unique key says so if it ever were
            raise Problem("trial_already_held")
        trial_id = granted["id"]
        await conn.execute(q.INSERT_POINT_SPEND, user_id, brand_id, community_id, poll_id, trial_id, price)
        details = {"reason": REDEEMED, "points": price, "brandId": str(brand_id)}
        await audit(conn, poll_id, user_id, "trial.granted", subject_id=user_id, details=details)
        await _schedule(conn, poll_id, trial_id, granted, poll["trial_product"])
        return 201, from_row(m.Trial, await conn.fetchrow(tq.TRIAL, trial_id))

    return await run_once(conn, user_id, key, scope_of("poll.redeem_trial", poll_id), action)


async def _schedule(conn: asyncpg.Connection, poll_id: int, trial_id: int, granted: asyncpg.Record, product: str):
    """The expiry job of the poll (one already queued is kept: it runs earlier and reschedules itself to the next
    deadline) and a reminder a day before this place's own claim deadline, as the close's grants get."""
    expires_at: datetime = granted["expires_at"]
    await enqueue(
        conn, "polls.expire_trials", {"poll_id": poll_id}, run_at=expires_at, dedupe_key=f"poll:{poll_id}:expire"
    )
    remind_at = expires_at - TRIAL_CLOSING_LEAD
    if remind_at > granted["granted_at"]:
        await enqueue(
            conn,
            "polls.trial_closing",
            {"poll_id": poll_id, "product": product},
            run_at=remind_at,
            dedupe_key=f"poll:{poll_id}:closing:{trial_id}",
        )


async def refund_expired(conn: asyncpg.Connection, poll_id: int, community_id: int) -> None:
    """In the expiry job's transaction, after it wrote down the expired qualifications: each redeemed place of the
    poll that expired unclaimed gives its points back to the member (a `point_refunds` row, the spend untouched) and
    its place back to the offer (places count only unrefunded spends). One refund per spend: running again refunds
    nothing twice. If the redemption window has closed meanwhile, nobody can take the place again.

    Neither the poll's lock nor the member's: a refund only frees a place and adds points, so a redemption that
    does not see it yet refuses at worst (`no_places_left`, `not_enough_points`); it never oversells nor overspends."""
    for refund in await conn.fetch(q.REFUND_EXPIRED, poll_id, community_id):
        details = {
            "points": refund["points"],
            "brandId": str(refund["brand_id"]),
            "trialId": str(refund["qualification_id"]),
        }
        await audit(conn, poll_id, None, "points.refunded", subject_id=refund["user_id"], details=details)
        # The member learns it: the points they spent are theirs again (each refund is written once).
        # Text, like every inbox `data` value (the schema says so; amounts too: `amountFen`).
        data = {"points": str(refund["points"]), "brandId": str(refund["brand_id"]), "pollId": str(poll_id)}
        told = Item(refund["user_id"], "points_refunded", "trial", refund["qualification_id"], community_id, data=data)
        await deliver(conn, told)


async def _spent(conn: asyncpg.Connection, user_id: int, brand_id: int) -> int:
    """The member's points spent in the brand, net of refunds."""
    spent = await conn.fetchval(q.SPENT_POINTS, user_id, brand_id)
    return spent - await conn.fetchval(q.REFUNDED_POINTS, user_id, brand_id)


async def my_points(conn: asyncpg.Connection, brand_id: int, user_id: int) -> m.PointsBalance:
    """My points in a brand (any signed-in member: only their own figures)."""
    spendable = await conn.fetchval(q.BRAND_SPENDABLE, brand_id)
    if spendable is None:
        raise Problem("not_found", "no such brand")
    earned = await conn.fetchval(q.EARNED_POINTS, user_id, brand_id)
    spent = await _spent(conn, user_id, brand_id)
    return m.PointsBalance(
        brand_id=str(brand_id), spendable=spendable, earned=earned, spent=spent, available=earned - spent
    )
