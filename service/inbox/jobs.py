"""The inbox domain's job: read items older than INBOX_KEEP_DAYS and unread ones older than INBOX_UNREAD_KEEP_DAYS
are deleted, in batches."""

from __future__ import annotations

from service.inbox import queries as q
from service.jobs import JobContext, Registry

JOBS = Registry()
PURGE_EVERY = 3600.0


@JOBS.job("inbox.purge", every=PURGE_EVERY)
async def purge(ctx: JobContext, payload: dict) -> None:
    settings = ctx.settings
    async with ctx.pool.acquire() as conn:
        for statement, days in (
            (q.PURGE_READ, settings.inbox_keep_days),
            (q.PURGE_UNREAD, settings.inbox_unread_keep_days),
        ):
            while (await conn.execute(statement, days)) == f"DELETE {q.PURGE_BATCH}":
                pass
