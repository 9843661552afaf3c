"""Jobs of meetups. Importing this module also registers the checkout purpose 'meetup' in the worker."""

from __future__ import annotations

import logging

from service.core.messaging import wechat_of
from service.jobs import JobContext, Registry
from service.meetups import logic, notices, signups

JOBS = Registry()

log = logging.getLogger("service.meetups")

REMINDERS_EVERY = 60
DEPARTED_BATCH = 200


@JOBS.job("meetups.release_hold")
async def release_hold(ctx: JobContext, payload: dict) -> None:
    """An unpaid place's hold lapsed: close the order, pass the place to the waitlist."""
    await signups.release_hold(ctx.pool, ctx.services["pay"], payload["signup_id"])


@JOBS.job("meetups.settle_departed")
async def settle_departed(ctx: JobContext, payload: dict) -> None:
    """A place lost by leaving: refund its paid order in full, or close it unpaid (idempotent)."""
    await signups.settle_departed(ctx.pool, ctx.services["pay"], payload["order_id"])


@JOBS.job("meetups.refund_cancelled")
async def refund_cancelled(ctx: JobContext, payload: dict) -> None:
    """A cancelled meetup: refund every paid place (idempotent)."""
    await logic.refund_cancelled(ctx.pool, ctx.services["pay"], payload["meetup_id"])


@JOBS.job("meetups.promoted")
async def promoted(ctx: JobContext, payload: dict) -> None:
    """Tell a member the waitlist gave them a place (at most once)."""
    await notices.notify_promoted(ctx.pool, wechat_of(ctx), ctx.settings, payload["signup_id"])


@JOBS.job("meetups.reminders", every=REMINDERS_EVERY)
async def reminders(ctx: JobContext, payload: dict) -> None:
    """First the places of members who left the community or were removed go to the waitlist (also with the app
    off; the members promoted are reminded in the same run), then subscribe-message reminders before the start,
    once per confirmed place."""
    released = await signups.release_departed(ctx.pool, DEPARTED_BATCH)
    if released:
        log.info("meetup places of departed members released", extra={"count": released})
    sent = await notices.send_reminders(ctx.pool, wechat_of(ctx), ctx.settings)
    if sent:
        log.info("meetup reminders", extra={"count": sent})
