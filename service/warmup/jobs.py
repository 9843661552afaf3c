"""The warm-up robot's periodic job."""

from __future__ import annotations

from service.jobs import JobContext, Registry
from service.warmup import logic

JOBS = Registry()

WARM_UP_EVERY = 60


@JOBS.job("robots.warmup", every=WARM_UP_EVERY)
async def warm_up(ctx: JobContext, payload: dict) -> None:
    await logic.warm_up(ctx.pool)
