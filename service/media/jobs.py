"""The media domain's jobs: submit an image to WeChat's check, ask again when no verdict came, delete unused
uploads, delete the files of deleted ones."""

from __future__ import annotations

from service.core.media import FILES_KIND
from service.core.messaging import wechat_of
from service.core.storage import Storage
from service.jobs import JobContext, Registry
from service.media import logic
from service.media import queries as q

JOBS = Registry()


def storage_of(ctx: JobContext) -> Storage:
    storage = ctx.services.get("storage")
    if storage is None:
        storage = ctx.services["storage"] = Storage(ctx.settings)
    return storage


@JOBS.job(q.CHECK_KIND)
async def check(ctx: JobContext, payload: dict) -> None:
    await logic.submit_check(ctx.pool, ctx.settings, storage_of(ctx), wechat_of(ctx), str(payload["sha256"]))


@JOBS.job(q.RESUBMIT_KIND, every=60)
async def resubmit(ctx: JobContext, payload: dict) -> None:
    await logic.resubmit_stale(ctx.pool, ctx.settings)


@JOBS.job(q.CLEANUP_KIND, every=3600)
async def cleanup(ctx: JobContext, payload: dict) -> None:
    await logic.delete_unattached(ctx.pool, ctx.settings, storage_of(ctx))


@JOBS.job(FILES_KIND)
async def delete_files(ctx: JobContext, payload: dict) -> None:
    """Queued when a deleted post or comment took uploads with it (`release_images`)."""
    await logic.delete_orphans(ctx.pool, storage_of(ctx))
