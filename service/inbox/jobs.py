"""The inbox domain's job: read items older than INBOX_KEEP_DAYS are deleted, in batches."""

from __future__ import annotations

from service.inbox import queries as q
from service.jobs import JobContext, Registry

JOBS = Registry()
PURGE_EVERY = 3600.0


@JOBS.job("inbox.purge", every=PURGE_EVERY)
async def purge(ctx: JobContext, payload: dict) -> None:
    async with ctx.pool.acquire() as conn:
        while (await conn.execute(q.PURGE, ctx.settings.inbox_keep_days)) == "DELETE 5000":
            pass
