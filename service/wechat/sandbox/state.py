"""The sandbox's configuration and in-memory state (one process, one event loop: no locks needed).

Identities are deterministic: a user name always maps to the same openid (per appid) and unionid, so
tests and front-end developers can log in as "alice" again and again. The clock can be advanced to test
expiry without waiting.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import msgspec
from litestar.di import NamedDependency

from service.settings import Settings

# label 21000: "other" in WeChat's content-safety labels.
DEFAULT_LABEL = 21000


def parse_words(spec: str) -> dict[str, int]:
    """``"word,other:20006"`` -> {"word": 21000, "other": 20006}."""
    words: dict[str, int] = {}
    for item in spec.split(","):
        word, sep, label = item.strip().rpartition(":")
        if not sep or not label.strip().isdigit():
            word, label = item.strip(), ""
        if word.strip():
            words[word.strip()] = int(label) if label else DEFAULT_LABEL
    return words


class SandboxConfig(msgspec.Struct, kw_only=True):
    appid: str
    secret: str
    code_ttl: float = 300.0
    token_ttl: int = 7200
    # In normal mode WeChat hands out a new token once the current one has less than this left to live.
    token_renew_window: int = 300
    phone_code_ttl: float = 300.0
    jscode2session_per_minute: int = 100
    # msg_sec_check answers 61010 for an openid that has not opened the mini program (wx.login) recently.
    require_recent_visit: bool = True
    visit_window: float = 7200.0
    risky_words: dict[str, int] = msgspec.field(default_factory=dict)
    review_words: dict[str, int] = msgspec.field(default_factory=dict)
    # The image check pushes its verdicts here (the API's POST /v1/wechat/messages), signed with this token.
    message_push_url: str | None = None
    message_token: str = "sandbox-message-token"
    media_check_delay: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> SandboxConfig:
        values: dict[str, object] = {
            "appid": settings.sandbox_appid,
            "secret": settings.sandbox_secret,
            "risky_words": parse_words(settings.sandbox_risky_words),
            "review_words": parse_words(settings.sandbox_review_words),
            "message_push_url": settings.public_base_url.rstrip("/") + "/v1/wechat/messages",
            "message_token": settings.sandbox_message_token,
            "media_check_delay": settings.sandbox_media_check_delay,
        }
        values.update(overrides)
        return cls(**values)


@dataclass
class SandboxUser:
    name: str
    openid: str
    unionid: str | None
    session_key: str = field(repr=False)
    last_visit: float


@dataclass
class OneTimeCode:
    openid: str
    issued_at: float
    used: bool = False
    phone_number: str | None = None
    country_code: str | None = None


@dataclass
class AccessToken:
    value: str
    expires_at: float
    # Set when WeChat would refuse it before its expiry: 40001 after a forced refresh.
    refused_with: int | None = None


@dataclass
class Fault:
    """What the sandbox does instead of answering: busy (errcode -1), http500, or slow (then answers)."""

    mode: str
    delay: float = 0.0
    remaining: int | None = None  # None: until cleared
    path_prefix: str = "/"


def _digest(*parts: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(":".join(parts).encode()).digest()).decode().rstrip("=")


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock_offset = 0.0
        self.users: dict[str, SandboxUser] = {}  # by openid
        self.login_codes: dict[str, OneTimeCode] = {}
        self.phone_codes: dict[str, OneTimeCode] = {}
        self.login_calls: dict[str, deque[float]] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.current_token: AccessToken | None = None
        self.consents: Counter[tuple[str, str]] = Counter()
        self.share_tickets: dict[str, str] = {}  # shareTicket -> the openGId of its group chat
        self.subscribe_messages: list[dict] = []
        self.custom_messages: list[dict] = []
        self.risky_words = dict(config.risky_words)
        self.review_words = dict(config.review_words)
        self.fault: Fault | None = None
        # The image check: verdicts by content sha256, every submission, and its delivery tasks.
        self.media_rules: dict[str, str] = {}
        self.media_checks: list = []
        self.media_hold = False
        self.media_push_before_answer = False  # push each verdict before answering its trace_id
        self.tasks: set = set()
        # Counters the tests read: calls per endpoint, tokens issued, forced refreshes.
        self.stats: Counter[str] = Counter()

    def now(self) -> float:
        return time.time() + self.clock_offset

    # -- identities ------------------------------------------------------------------------------------

    def openid_for(self, name: str) -> str:
        return "o" + _digest("openid", self.config.appid, name)[:27]

    @staticmethod
    def unionid_for(name: str) -> str:
        return "u" + _digest("unionid", name)[:27]

    def visit(self, name: str, *, with_unionid: bool) -> SandboxUser:
        """wx.login: the member opened the mini program; a new session_key replaces the old one."""
        openid = self.openid_for(name)
        user = self.users.get(openid)
        session_key = base64.b64encode(secrets.token_bytes(16)).decode()
        if user is None:
            user = SandboxUser(name, openid, None, session_key, self.now())
            self.users[openid] = user
        user.session_key, user.last_visit = session_key, self.now()
        if with_unionid:
            user.unionid = self.unionid_for(name)
        return user

    def user(self, name: str | None = None, openid: str | None = None) -> SandboxUser | None:
        if openid is None and name is not None:
            openid = self.openid_for(name)
        return self.users.get(openid) if openid else None

    def open_gid_for(self, group: str) -> str:
        """A group chat's openGId: the same group is always the same id for one appid, as WeChat's."""
        return "tG" + _digest("opengid", self.config.appid, group)[:26]

    def new_share_ticket(self, group: str) -> str:
        """The launch options' shareTicket of the mini program opened from a card in ``group``."""
        ticket = secrets.token_urlsafe(24)
        self.share_tickets[ticket] = self.open_gid_for(group)
        return ticket

    # -- one-time codes --------------------------------------------------------------------------------

    def new_login_code(self, user: SandboxUser) -> str:
        code = secrets.token_urlsafe(24)
        self.login_codes[code] = OneTimeCode(user.openid, self.now())
        return code

    def new_phone_code(self, user: SandboxUser, phone_number: str, country_code: str) -> str:
        code = secrets.token_urlsafe(24)
        self.phone_codes[code] = OneTimeCode(
            user.openid, self.now(), phone_number=phone_number, country_code=country_code
        )
        return code

    def redeem(self, codes: dict[str, OneTimeCode], code: str, ttl: float) -> tuple[int, OneTimeCode | None]:
        """(errcode, code): 40029 unknown or expired, 40163 already used, else 0 and the code, now used."""
        entry = codes.get(code)
        if entry is None or self.now() - entry.issued_at > ttl:
            return 40029, None
        if entry.used:
            return 40163, None
        entry.used = True
        return 0, entry

    def count_login_call(self, openid: str) -> bool:
        """False when the openid exceeded WeChat's per-minute jscode2session limit (45011)."""
        calls = self.login_calls.setdefault(openid, deque())
        now = self.now()
        while calls and now - calls[0] > 60:
            calls.popleft()
        calls.append(now)
        return len(calls) <= self.config.jscode2session_per_minute

    # -- access tokens ---------------------------------------------------------------------------------

    def stable_token(self, force_refresh: bool) -> AccessToken:
        current, now = self.current_token, self.now()
        renew = (
            force_refresh
            or current is None
            or current.refused_with is not None
            or current.expires_at - now <= self.config.token_renew_window
        )
        if not renew:
            return current
        if force_refresh and current is not None and current.refused_with is None:
            current.refused_with = 40001  # a forced refresh invalidates the old token at once
        token = AccessToken("sbx_" + secrets.token_urlsafe(48), now + self.config.token_ttl)
        self.tokens[token.value] = token
        self.current_token = token
        self.stats["tokens_issued"] += 1
        return token

    def check_token(self, value: str | None) -> int:
        """0, or WeChat's errcode for the token: 41001 missing, 40001 invalid, 42001 expired."""
        if not value:
            return 41001
        token = self.tokens.get(value)
        if token is None:
            return 40001
        if token.refused_with is not None:
            return token.refused_with
        if token.expires_at <= self.now():
            return 42001
        return 0

    # -- faults ----------------------------------------------------------------------------------------

    def take_fault(self, path: str) -> Fault | None:
        fault = self.fault
        if fault is None or not path.startswith(fault.path_prefix):
            return None
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.fault = None
        return fault


# What the sandbox's handlers take as `sandbox` (create_sandbox_app provides the one state).
Sandbox = NamedDependency[SandboxState]
