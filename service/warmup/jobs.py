"""The warm-up robot's periodic jobs: its posts in quiet communities, and its introductions and topic prompts."""

from __future__ import annotations

from service.jobs import JobContext, Registry
from service.warmup import logic, nudges

JOBS = Registry()

WARM_UP_EVERY = 60


@JOBS.job("robots.warmup", every=WARM_UP_EVERY)
async def warm_up(ctx: JobContext, payload: dict) -> None:
    await logic.warm_up(ctx.pool)


NUDGES_EVERY = 600


@JOBS.job("robots.nudges", every=NUDGES_EVERY)
async def nudge(ctx: JobContext, payload: dict) -> None:
    await nudges.nudge(ctx.pool)
