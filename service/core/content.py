"""The content pipeline: a member's text is checked with WeChat's msg_sec_check (v2) before anyone else sees it.

Two ways to use it. Feed posts and comments (`judge`) are never lost: a text WeChat cannot check now is kept
pending and queued for the recheck job (`QUEUE_POST_CHECK`, `QUEUE_COMMENT_CHECK`). Texts of the operating
domains (activities, meetups, the warm-up robot; `status_for`) are answered at once: WeChat unavailable is a
503 the client retries.

- pass    -> visible at once
- review  -> kept 'pending': hidden from others, shown to its author marked pending, until an admin decides it
  in the moderation queue (service/moderation)
- risky   -> refused with `content_rejected` (422); nothing is stored
- WeChat unavailable (network, 5xx, busy, rate limit, an unexpected answer) -> kept 'pending' and queued
  for the recheck job, so nothing a member wrote is lost while WeChat is down

The check is a network call: callers hold no database connection while it runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import asyncpg

from service.errors import Problem
from service.wechat.client import Scene, WeChatClient
from service.wechat.errors import CONTENT_REJECTED, WECHAT_SESSION_STALE, WeChatError, WeChatUnavailable

log = logging.getLogger("service.content")

POST_SCENE: Scene = 3  # forum post
COMMENT_SCENE: Scene = 2  # comment
NOT_VISITED_RECENTLY = 61010  # the member has not opened the mini program in the last 2 hours

Outcome = Literal["pass", "review", "risky", "unchecked"]


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    label: int | None = None
    reason: str | None = None  # why a text is unchecked

    @property
    def status(self) -> str:
        """The status the text is stored with."""
        return "visible" if self.outcome == "pass" else "pending"


PASSED = Verdict("pass", 100)


async def judge(wechat: WeChatClient, openid: str, scene: Scene, text: str) -> Verdict:
    """WeChat's verdict on a text; never raises for an unavailable WeChat (the text is then unchecked).

    61010 (not seen in the mini program for 2 hours) is reported as `unchecked` with that reason; a request
    turns it into `wechat_session_stale` (see `require_checked`), the recheck job waits and asks again.
    """
    if not text.strip():
        return PASSED  # nothing to check: an image-only post
    try:
        verdict = await wechat.check_text(openid, scene, text)
    except WeChatUnavailable as exc:
        return Verdict("unchecked", reason=exc.detail or "WeChat unavailable")
    except WeChatError as exc:
        if exc.errcode == NOT_VISITED_RECENTLY:
            return Verdict("unchecked", reason="not visited recently")
        log.warning("msg_sec_check refused", extra={"errcode": exc.errcode})
        return Verdict("unchecked", reason=f"errcode {exc.errcode}")
    return Verdict(verdict.suggest, verdict.label)


def require_allowed(verdict: Verdict, what: str) -> Verdict:
    """In a request: risky is refused, a member WeChat has not seen lately is asked to log in again."""
    if verdict.outcome == "risky":
        raise Problem(CONTENT_REJECTED, f"the {what} was rejected (label {verdict.label})", label=verdict.label)
    if verdict.reason == "not visited recently":
        raise Problem(WECHAT_SESSION_STALE)
    return verdict


# --- the re-check queue (feed.recheck works it off) ---------------------------------------------------------

# Queued again: the row starts over with the new one's defaults (no attempts, due now, no error; Citus takes no
# now() in DO UPDATE SET).
QUEUE_POST_CHECK = """
INSERT INTO content_checks (post_id, community_id) SELECT id, community_id FROM posts WHERE id = $1
ON CONFLICT (post_id, community_id) WHERE post_id IS NOT NULL
DO UPDATE SET attempts = excluded.attempts, next_at = excluded.next_at, last_error = excluded.last_error
"""
QUEUE_COMMENT_CHECK = """
INSERT INTO content_checks (comment_id, community_id) SELECT id, community_id FROM comments WHERE id = $1
ON CONFLICT DO NOTHING  -- one check per comment (no target: Citus widens that key)
"""


# --- answered at once (activities, meetups, the warm-up robot) ----------------------------------------------

OPENID = "SELECT openid FROM users WHERE id = $1"


async def openid_of(conn: asyncpg.Connection, user_id: int) -> str:
    openid = await conn.fetchval(OPENID, user_id)
    if openid is None:
        raise Problem("unauthorized", "no such user")
    return openid


async def require_pass(wechat: WeChatClient, openid: str, text: str, what: str) -> None:
    """Text a robot posts under its name (a keyword reply, a brand's defaults): WeChat must pass it outright, held
    for review is refused too; WeChat unable to check it (whatever the error) is a 503 the client retries."""
    verdict = await judge(wechat, openid, POST_SCENE, text)
    if verdict.reason == "not visited recently":
        raise Problem(WECHAT_SESSION_STALE)
    if verdict.outcome == "unchecked":
        raise WeChatUnavailable(f"WeChat could not check {what}: try again", retry_after=5)
    if verdict.outcome != "pass":
        raise Problem(CONTENT_REJECTED, f"{what} did not pass the content check ({verdict.outcome})")


async def require_passed(pool: asyncpg.Pool, wechat: WeChatClient, user_id: int, text: str, what: str) -> None:
    """A text shown to others at once, with no pending state to hold it in (a meetup's title, a collection's, a
    warm-up topic): WeChat must pass it; held for review it answers `content_rejected` too. The member's openid
    is read on a connection released before WeChat is asked."""
    if not text.strip():
        return
    async with pool.acquire() as conn:
        openid = await openid_of(conn, user_id)
    if await status_for(wechat, openid, text) != "visible":
        raise Problem(CONTENT_REJECTED, f"the {what} needs review; rephrase it")


async def status_for(wechat: WeChatClient, openid: str, text: str, scene: Scene = POST_SCENE) -> str:
    """'visible' or 'pending' for ``text``; raises `content_rejected` when WeChat finds it risky and
    `wechat_session_stale` when WeChat has not seen the member lately. WeChat unavailable propagates (503)."""
    if not text.strip():
        return "visible"
    try:
        verdict = await wechat.check_text(openid, scene, text)
    except WeChatError as exc:
        if exc.errcode == NOT_VISITED_RECENTLY:
            raise Problem(WECHAT_SESSION_STALE) from None
        raise
    if verdict.suggest == "risky":
        raise Problem(CONTENT_REJECTED, f"WeChat flagged the text (label {verdict.label})", label=verdict.label)
    return "pending" if verdict.suggest == "review" else "visible"
