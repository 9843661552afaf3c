"""Subscribe messages from background jobs (reminders), sent at most once each.

A send that may have reached WeChat is never repeated: callers claim the reminder in the database first, then
send, then record what happened. 43101 (the member has no consent left) is a result, not an error.
"""

from __future__ import annotations

import logging

from service.jobs import JobContext
from service.wechat.client import WeChatClient
from service.wechat.errors import WeChatError, WeChatUnavailable

log = logging.getLogger("service.core.messaging")

# WeChat's template fields: `thing` holds at most 20 characters.
THING_MAX = 20


def wechat_of(ctx: JobContext) -> WeChatClient:
    """The WeChat client of the worker (services["wechat"]), else one over the worker's HTTP client."""
    client = ctx.services.get("wechat")
    if client is None:
        client = WeChatClient(ctx.http, ctx.pool, ctx.settings)
        ctx.services["wechat"] = client
    return client


def thing(text: str) -> str:
    return text if len(text) <= THING_MAX else text[: THING_MAX - 1] + "…"


async def send_once(
    wechat: WeChatClient, openid: str, template_id: str, data: dict[str, str], *, page: str | None = None
) -> str:
    """'sent', 'no_consent' (43101: no quota left, never retried) or 'failed'."""
    try:
        result = await wechat.send_subscribe_message(openid, template_id, data, page=page)
    except (WeChatError, WeChatUnavailable) as exc:
        log.warning("subscribe message failed", extra={"template": template_id, "error": str(exc)})
        return "failed"
    return "sent" if result.sent else "no_consent"
