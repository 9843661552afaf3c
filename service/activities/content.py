"""Content safety for text that members (or robots, for admins) publish: msg_sec_check before it is shown.

pass -> visible; review -> pending (kept hidden until a person looks, as the feed does); risky -> refused
with `content_rejected`. WeChat answers 61010 when the member has not opened the mini program for two hours:
that becomes `wechat_session_stale` (log in again). WeChat being unavailable answers 503 with Retry-After.
"""

from __future__ import annotations

import asyncpg

from service.activities.queries import OPENID
from service.errors import Problem
from service.wechat.client import Scene, WeChatClient
from service.wechat.errors import WeChatError

NOT_VISITED_ERRCODE = 61010
SCENE_POST: Scene = 3


async def openid_of(conn: asyncpg.Connection, user_id: int) -> str:
    openid = await conn.fetchval(OPENID, user_id)
    if openid is None:
        raise Problem("unauthorized", "no such user")
    return openid


async def status_for(wechat: WeChatClient, openid: str, text: str, scene: Scene = SCENE_POST) -> str:
    """'visible' or 'pending' for ``text``; raises `content_rejected` when WeChat finds it risky."""
    if not text.strip():
        return "visible"
    try:
        verdict = await wechat.check_text(openid, scene, text)
    except WeChatError as exc:
        if exc.errcode == NOT_VISITED_ERRCODE:
            raise Problem("wechat_session_stale") from None
        raise
    if verdict.suggest == "risky":
        raise Problem("content_rejected", f"WeChat flagged the text (label {verdict.label})")
    return "pending" if verdict.suggest == "review" else "visible"
