"""The moderation domain's job: the outcome of a decided case, told once to the author of removed content and to
the reporters (subscribe messages; 43101, no consent left, is a result)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from service.core.messaging import send_once, thing, wechat_of
from service.jobs import JobContext, Registry
from service.moderation import queries as q
from service.moderation.logic import NOTIFY_KIND

JOBS = Registry()


@JOBS.job(NOTIFY_KIND)
async def notify(ctx: JobContext, payload: dict) -> None:
    case_id = int(payload["case_id"])
    async with ctx.pool.acquire() as conn:
        case = await conn.fetchrow(q.CLAIM_NOTICE, case_id)
        reporters = [row["openid"] for row in await conn.fetch(q.REPORTER_OPENIDS, case_id)] if case else []
    if case is None:
        return  # told already (a retried job), or not decided
    settings, wechat = ctx.settings, wechat_of(ctx)
    when = datetime.now(UTC).astimezone(ZoneInfo(settings.metrics_timezone)).strftime("%Y-%m-%d %H:%M")
    removed = case["status"] == "removed"

    async def send(title: str, result: str, openid: str) -> None:
        data = {"thing1": thing(title), "thing2": thing(result), "time3": when}
        await send_once(wechat, openid, settings.moderation_template_id, data, page=settings.moderation_page)

    # An author who had deleted the content is not told (decide); a job queued before that flag: told, as then.
    if (
        removed
        and case["target_kind"] in ("post", "comment")
        and case["author_openid"]
        and payload.get("tell_author", True)
    ):
        await send("你发布的内容已被移除", case["reason"] or "违反社区规范", case["author_openid"])
    for openid in reporters:
        await send("你的举报已处理", "已处理违规内容" if removed else "经核实未发现违规", openid)
