"""Periodic jobs of the interactions domain: roll-ups, community stages, partitions and retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from service.interactions import logic, stages
from service.jobs import JobContext, Registry

JOBS = Registry()

log = logging.getLogger("service.interactions")

ROLLUP_EVERY = 60  # seconds
MAINTAIN_EVERY = 6 * 3600
STAGES_EVERY = 24 * 3600


@JOBS.job("interactions.rollup", every=ROLLUP_EVERY)
async def rollup(ctx: JobContext, payload: dict) -> None:
    async with ctx.pool.acquire() as conn:
        touched = await logic.rollup_incremental(conn, ctx.settings)
    if touched:
        log.info("roll-up", extra={"communityDays": touched})


@JOBS.job("interactions.maintain", every=MAINTAIN_EVERY)
async def maintain(ctx: JobContext, payload: dict) -> None:
    """Create next months' partitions, drop those past retention."""
    async with ctx.pool.acquire() as conn:
        await conn.execute("SELECT ensure_interaction_partitions(now()::date, 3)")
        dropped = await logic.drop_expired_partitions(conn, ctx.settings, datetime.now(UTC))
    log.info("interactions maintained", extra={"droppedPartitions": dropped})


@JOBS.job("interactions.stages", every=STAGES_EVERY)
async def refresh_stages(ctx: JobContext, payload: dict) -> None:
    """Every community's stage, once a day: the one value the record, the metrics and the advice show."""
    async with ctx.pool.acquire() as conn:
        communities = [r["id"] for r in await conn.fetch("SELECT id FROM communities")]
        await stages.refresh_stages(conn, ctx.settings, communities)
    log.info("stages refreshed", extra={"communities": len(communities)})
