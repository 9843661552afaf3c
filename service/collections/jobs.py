"""Job kinds of group collections. Importing this module also registers the `collection_share` purpose."""

from __future__ import annotations

from service.collections import closing
from service.jobs import JobContext, Registry

JOBS = Registry()

SWEEP_EVERY = 300.0


@JOBS.job("collections.settle")
async def settle(ctx: JobContext, payload: dict) -> None:
    """Queued for each collection's deadline (and on cancel): settle it, resumable after a crash."""
    await closing.settle(ctx.pool, ctx.services["pay"], payload["collection_id"])


@JOBS.job("collections.sweep", every=SWEEP_EVERY)
async def sweep(ctx: JobContext, payload: dict) -> None:
    """A safety net: a collection past its deadline whose settle job failed for good gets a new one."""
    await closing.enqueue_overdue(ctx.pool)
