"""Content safety: a member's text is checked with WeChat's msg_sec_check (v2) before anyone else sees it.

- pass    -> visible at once
- review  -> kept 'pending': hidden from others, shown to its author marked pending (a person decides)
- risky   -> refused with `content_rejected` (422); nothing is stored
- WeChat unavailable (network, 5xx, busy, rate limit, an unexpected answer) -> kept 'pending' and queued
  for the recheck job, so nothing a member wrote is lost while WeChat is down

The check is a network call: callers hold no database connection while it runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from service.errors import Problem
from service.wechat.client import Scene, WeChatClient
from service.wechat.errors import CONTENT_REJECTED, WECHAT_SESSION_STALE, WeChatError, WeChatUnavailable

log = logging.getLogger("service.feed")

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
        raise Problem(CONTENT_REJECTED, f"the {what} was rejected (label {verdict.label})")
    if verdict.reason == "not visited recently":
        raise Problem(WECHAT_SESSION_STALE)
    return verdict
