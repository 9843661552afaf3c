"""Periodic jobs of the interactions domain: roll-ups, community stages, partitions and retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from service.interactions import logic
from service.jobs import JobContext, Registry

JOBS = Registry()

log = logging.getLogger("service.interactions")

ROLLUP_EVERY = 60  # seconds
MAINTAIN_EVERY = 6 * 3600


@JOBS.job("interactions.rollup", every=ROLLUP_EVERY)
async def rollup(ctx: JobContext, payload: dict) -> None:
    async with ctx.pool.acquire() as conn:
        touched = await logic.rollup_incremental(conn, ctx.settings)
    if touched:
        log.info("roll-up", extra={"communityDays": touched})


@JOBS.job("interactions.maintain", every=MAINTAIN_EVERY)
async def maintain(ctx: JobContext, payload: dict) -> None:
    """Create next months' partitions, drop those past retention, refresh community stages."""
    async with ctx.pool.acquire() as conn:
        await conn.execute("SELECT ensure_interaction_partitions(now()::date, 3)")
        dropped = await logic.drop_expired_partitions(conn, ctx.settings, datetime.now(UTC))
        communities = [r["id"] for r in await conn.fetch("SELECT id FROM communities")]
        await logic.refresh_stages(conn, ctx.settings, communities)
    log.info("interactions maintained", extra={"droppedPartitions": dropped, "communities": len(communities)})
