"""The moderation domain's job: the outcome of a decided case, told to the author of removed content and to the
reporters (subscribe messages). Each message goes out at most once (claimed before it is sent); while WeChat is
unavailable the job fails and is retried with backoff, as the feed's notifications are; 43101 (no consent left) and
WeChat's refusals are answers, recorded and never retried."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from service.core.messaging import thing, wechat_of
from service.jobs import JobContext, Registry
from service.moderation import queries as q
from service.moderation.logic import NOTIFY_KIND
from service.wechat.errors import WeChatError, WeChatUnavailable

log = logging.getLogger("service.moderation.jobs")

JOBS = Registry()


@JOBS.job(NOTIFY_KIND)
async def notify(ctx: JobContext, payload: dict) -> None:
    case_id = int(payload["case_id"])
    pool = ctx.pool
    case = await pool.fetchrow(q.NOTICE_CASE, case_id)
    if case is None:
        return  # told already (a retried job), or not decided
    settings, wechat = ctx.settings, wechat_of(ctx)
    when = datetime.now(UTC).astimezone(ZoneInfo(settings.metrics_timezone)).strftime("%Y-%m-%d %H:%M")
    removed = case["status"] == "removed"

    async def send(claim: str, finish: str, key: int, title: str, result: str) -> None:
        """Claim one message, send it, record what WeChat answered; WeChat unavailable (or rate limiting) releases
        the claim and raises, so the job is retried."""
        openid = await pool.fetchval(claim, key)
        if openid is None:
            return  # sent or being sent by another run, or nobody to send it to (an erased account)
        data = {"thing1": thing(title), "thing2": thing(result), "time3": when}
        try:
            answer = await wechat.send_subscribe_message(
                openid, settings.moderation_template_id, data, page=settings.moderation_page
            )
            status = "sent" if answer.sent else "no_consent"
        except (WeChatUnavailable, WeChatError) as exc:
            if isinstance(exc, WeChatUnavailable) or exc.code == "rate_limited":
                await pool.execute(finish, key, None)
                raise
            log.warning("moderation notice refused", extra={"caseId": case_id, "errcode": exc.errcode})
            status = "failed"
        await pool.execute(finish, key, status)

    # An author who had deleted the content is not told (decide); a job queued before that flag: told, as then.
    if removed and case["target_kind"] in ("post", "comment") and payload.get("tell_author", True):
        reason = case["reason"] or "违反社区规范"
        await send(q.CLAIM_AUTHOR_NOTICE, q.SET_AUTHOR_NOTICE, case_id, "你发布的内容已被移除", reason)
    outcome = "已处理违规内容" if removed else "经核实未发现违规"
    for report in await pool.fetch(q.UNSENT_REPORTS, case_id):
        await send(q.CLAIM_REPORT_NOTICE, q.SET_REPORT_NOTICE, report["id"], "你的举报已处理", outcome)
    await pool.execute(q.NOTIFIED, case_id)
