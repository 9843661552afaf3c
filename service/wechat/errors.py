"""Problems raised by the WeChat client: WeChat's errcodes mapped to stable problem codes.

They are ``Problem`` subclasses, so an unhandled one becomes the right problem+json answer, while callers
that can do better (keep a post pending when WeChat is down) catch ``WeChatUnavailable``.
"""

from __future__ import annotations

from service.errors import HTTP, Code, Problem

INVALID_CODE = "invalid_code"
CODE_USED = "code_used"
PHONE_CODE_INVALID = "phone_code_invalid"
WECHAT_UNAVAILABLE = "wechat_unavailable"
WECHAT_ERROR = "wechat_error"
INVALID_OPEN_DATA = "invalid_open_data"
OPEN_DATA_SIGNATURE_MISMATCH = "open_data_signature_mismatch"
CONTENT_REJECTED = "content_rejected"
WECHAT_SESSION_STALE = "wechat_session_stale"

# WeChat's errcodes that mean "the access token is no longer valid": the only reasons to force a refresh.
TOKEN_INVALID_ERRCODES = frozenset({40001, 42001})
SYSTEM_BUSY = -1
# Too frequent calls: WeChat counts about a minute.
RATE_LIMITED_ERRCODE = 45011
RATE_LIMITED_RETRY_AFTER = 60


class WeChatError(Problem):
    """WeChat answered with an errcode; ``errcode`` keeps it for callers that branch on it."""

    def __init__(self, errcode: int | None, code: str = WECHAT_ERROR, *, retry_after: int | None = None) -> None:
        self.errcode = errcode  # None: an answer that does not have the documented shape
        detail = f"WeChat answered errcode {errcode}" if errcode is not None else "WeChat gave an unexpected answer"
        super().__init__(code, detail, retry_after=retry_after)


class WeChatUnavailable(Problem):
    """WeChat could not be reached, failed, or stayed busy after the bounded retries."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(WECHAT_UNAVAILABLE, detail, retry_after=retry_after)


# WeChat's problems, under the HTTP layer's: every layer above extends this table.
WECHAT = HTTP.extend(
    Code(
        "invalid_code",
        400,
        "The wx.login code is invalid or expired: get a new one and retry.",
        action="login",
    ),
    Code("code_used", 400, "The wx.login code was already used: get a new one and retry.", action="login"),
    # The phone button's code: the session is fine, the member taps the button again for a new code.
    Code(
        "phone_code_invalid",
        400,
        "The getPhoneNumber code is invalid, expired (5 minutes) or already used: have the member tap the button "
        "again and send its new code.",
        action="show",
    ),
    Code("wechat_unavailable", 503, "WeChat is unavailable: retry after Retry-After seconds."),
    Code("wechat_error", 502, "WeChat refused the call; `detail` carries its errcode.", action="show"),
    Code(
        "invalid_open_data",
        400,
        "encryptedData does not decrypt with the session of your latest login: call wx.login, log in, and retry.",
        action="login",
    ),
    Code(
        "open_data_signature_mismatch",
        400,
        "rawData does not match its signature for your latest login.",
        action="login",
    ),
    Code("content_rejected", 422, "The text did not pass WeChat's content-safety check."),
    Code(
        "wechat_session_stale",
        409,
        "WeChat has not seen you in the mini program for 2 hours: call wx.login, log in again, and retry.",
        action="login",
    ),
)
