"""Periodic jobs of theme activities: generate occurrences ahead, announce those that open."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from service.activities import occurrences
from service.jobs import JobContext, Registry

JOBS = Registry()

log = logging.getLogger("service.activities")

GENERATE_EVERY = 3600
ANNOUNCE_EVERY = 60


@JOBS.job("activities.generate", every=GENERATE_EVERY)
async def generate(ctx: JobContext, payload: dict) -> None:
    created = await occurrences.generate_due(ctx.pool, ctx.settings)
    if created:
        log.info("activity occurrences generated", extra={"count": created})


@JOBS.job("activities.announce", every=ANNOUNCE_EVERY)
async def announce(ctx: JobContext, payload: dict) -> None:
    async with ctx.pool.acquire() as conn:
        posted = await occurrences.announce_due(conn, datetime.now(UTC))
    if posted:
        log.info("activity occurrences announced", extra={"count": posted})
