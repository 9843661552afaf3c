"""Jobs of community apps. Importing this module also registers the checkout purpose 'app' in the worker."""

from __future__ import annotations

import logging

from service.apps import logic
from service.core.messaging import wechat_of
from service.jobs import JobContext, Registry

JOBS = Registry()

log = logging.getLogger("service.apps")

EXPIRY_REMINDERS_EVERY = 3600


@JOBS.job("apps.expiry_reminders", every=EXPIRY_REMINDERS_EVERY)
async def expiry_reminders(ctx: JobContext, payload: dict) -> None:
    """Tell owners their monthly app ends soon (once per paid period; 43101 recorded, never retried)."""
    sent = await logic.send_expiry_reminders(ctx.pool, wechat_of(ctx), ctx.settings)
    if sent:
        log.info("app expiry reminders", extra={"count": sent})
