"""Subscribe messages of meetups: reminders before the start, and a waitlisted member promoted to a place."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from service.core.messaging import send_once, thing
from service.core.rows import claim_each
from service.meetups import queries as q
from service.meetups.logic import REMINDER_BATCH
from service.settings import Settings
from service.wechat.client import WeChatClient


def _local(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


async def send_reminders(pool: asyncpg.Pool, wechat: WeChatClient, settings: Settings) -> int:
    """Remind confirmed members before the start (MEETUPS_REMINDER_LEAD), once each: claimed first, sent
    after, the outcome recorded (no_consent for 43101: the member's quota is respected, never retried;
    muted when the member muted the community; not_member when they left it)."""
    due = await pool.fetch(q.DUE_REMINDERS, float(settings.meetups_reminder_lead), REMINDER_BATCH)
    claimed = await claim_each(pool, due, q.CLAIM_REMINDER)
    for row in claimed:
        context = await pool.fetchrow(q.NOTICE_CONTEXT, row["id"])
        if not context["member"]:
            result = "not_member"  # left or removed since it was found due
        elif context["muted"]:
            result = "muted"
        else:
            data = {
                "thing1": thing(context["title"]),
                "time2": _local(context["starts_at"], context["timezone"]),
                "thing3": thing(context["place"] or ("线上" if context["mode"] == "online" else "")) or "-",
            }
            page = f"pages/meetup/detail?id={context['meetup_id']}"
            result = await send_once(wechat, context["openid"], settings.meetups_reminder_template_id, data, page=page)
        await pool.execute(q.SET_REMINDER_STATUS, row["id"], result)
    return len(claimed)


async def notify_promoted(pool: asyncpg.Pool, wechat: WeChatClient, settings: Settings, signup_id: int) -> str | None:
    """Tell a member the waitlist gave them a place (and until when to pay), at most once."""
    if await pool.fetchval(q.CLAIM_PROMOTION_NOTICE, signup_id) is None:
        return None
    context = await pool.fetchrow(q.NOTICE_CONTEXT, signup_id)
    if not context["member"]:
        result = "not_member"  # left or removed since the promotion
    elif context["muted"]:
        result = "muted"
    else:
        deadline = context["hold_until"] or context["starts_at"]
        data = {
            "thing1": thing(context["title"]),
            "phrase2": "候补成功" if context["hold_until"] is None else "请及时付款",
            "time3": _local(deadline, context["timezone"]),
        }
        page = f"pages/meetup/detail?id={context['meetup_id']}"
        result = await send_once(wechat, context["openid"], settings.meetups_promotion_template_id, data, page=page)
    await pool.execute(q.SET_PROMOTION_NOTICE, signup_id, result)
    return result
