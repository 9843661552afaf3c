"""What the WeChat client answers with (WeChat's own field names stay inside client.py)."""

from __future__ import annotations

from typing import Literal

import msgspec


class CodeSession(msgspec.Struct, frozen=True):
    """jscode2session: who logged in. ``session_key`` must never be logged or returned."""

    openid: str
    session_key: str
    unionid: str | None = None

    def __repr__(self) -> str:  # keep the session key out of tracebacks and debug output
        return f"CodeSession(openid={self.openid!r}, unionid={self.unionid!r})"


class PhoneNumber(msgspec.Struct, frozen=True):
    phone_number: str
    pure_phone_number: str
    country_code: str


Suggest = Literal["pass", "review", "risky"]


class ContentVerdict(msgspec.Struct, frozen=True):
    """msg_sec_check v2: ``suggest`` decides; ``label`` says why (100 normal, 20001 politics, ...)."""

    suggest: Suggest
    label: int
    trace_id: str | None = None


class SubscribeResult(msgspec.Struct, frozen=True):
    """A subscribe message either went out or the member had no consent left (43101): never retried."""

    sent: bool
    errcode: int = 0
