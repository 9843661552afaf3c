"""The interests' periodic job: keywords of what members wrote since the last run (extraction.py)."""

from __future__ import annotations

from service.interests import extraction
from service.jobs import JobContext, Registry

JOBS = Registry()

EXTRACT_EVERY = 60


@JOBS.job("interests.extract", every=EXTRACT_EVERY)
async def extract(ctx: JobContext, payload: dict) -> None:
    await extraction.extract(ctx.pool)
