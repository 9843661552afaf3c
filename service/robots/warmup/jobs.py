"""The warm-up robot's periodic job."""

from __future__ import annotations

from service.jobs import JobContext, job
from service.robots.warmup import logic

WARM_UP_EVERY = 60


@job("robots.warmup", every=WARM_UP_EVERY)
async def warm_up(ctx: JobContext, payload: dict) -> None:
    await logic.warm_up(ctx.pool)
