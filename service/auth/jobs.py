"""The auth domain's job: erase the accounts whose cooling-off has ended (deletion.py)."""

from __future__ import annotations

from service.auth import deletion
from service.jobs import JobContext, Registry

JOBS = Registry()


@JOBS.job(deletion.ERASE_KIND, every=300)
async def erase(ctx: JobContext, payload: dict) -> None:
    await deletion.erase_due(ctx.pool)
