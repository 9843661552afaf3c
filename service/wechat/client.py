"""The async WeChat API client, over the app's shared httpx client.

- Bounded retries only where a retry cannot do harm: a network error before the request was sent, any
  network error or 5xx on a call that is safe to repeat, and WeChat's -1 "system busy" (nothing happened).
  A single-use code (login, phone) or a message send is never repeated once it may have reached WeChat.
- WeChat's errcodes become problem codes (see errors.py); anything unexpected is ``wechat_error``.
- Calls that need the access token get it from the shared cache (tokens.py) and force a refresh only
  after WeChat says that very token is invalid or expired (40001, 42001).
- Nothing here logs a URL query (it carries the secret or the token) or an answer (it carries session keys).
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Literal

import asyncpg
import httpx
import msgspec

from service.settings import Settings
from service.wechat.errors import (
    CODE_USED,
    INVALID_CODE,
    PHONE_CODE_INVALID,
    RATE_LIMITED_ERRCODE,
    RATE_LIMITED_RETRY_AFTER,
    SYSTEM_BUSY,
    TOKEN_INVALID_ERRCODES,
    WeChatError,
    WeChatUnavailable,
)
from service.wechat.models import CodeSession, ContentVerdict, PhoneNumber, SubscribeResult
from service.wechat.tokens import AccessTokenCache

log = logging.getLogger("service.wechat")

# Transport errors raised before a byte of the request left: always safe to retry.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
NO_CONSENT_ERRCODE = 43101
# msg_sec_check scenes: 1 profile, 2 comment, 3 forum post, 4 social log.
Scene = Literal[1, 2, 3, 4]


class WeChatClient:
    def __init__(self, http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings) -> None:
        self._http = http
        self._settings = settings
        self.appid, self._secret = settings.wechat_credentials
        self._base = settings.wechat_api_base.rstrip("/")
        self.tokens = AccessTokenCache(pool, self.appid, self._fetch_access_token, margin=settings.wechat_token_margin)

    # -- transport ---------------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        repeatable: bool,
        image: bool = False,
    ) -> dict[str, Any]:
        """WeChat's JSON answer (errcode -1 retried away); raises WeChatUnavailable when it cannot get one.
        With ``image``, an image answer comes back as ``{"image": bytes}`` (errors are still JSON)."""
        attempts = self._settings.wechat_retries + 1
        content = msgspec.json.encode(body) if body is not None else None
        headers = {"content-type": "application/json"} if content is not None else None
        reason = "no answer"
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))  # noqa: S311
            try:
                response = await self._http.request(
                    method, f"{self._base}{path}", params=params, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                reason = f"network error ({type(exc).__name__})"
                log.warning("wechat call failed", extra={"path": path, "error": type(exc).__name__, "attempt": attempt})
                if isinstance(exc, _NOT_SENT) or repeatable:
                    continue
                break
            if response.status_code >= 500:
                reason = f"HTTP {response.status_code}"
                log.warning("wechat call failed", extra={"path": path, "status": response.status_code})
                if repeatable:
                    continue
                break
            if image and response.headers.get("content-type", "").startswith("image/"):
                return {"image": response.content}
            try:
                answer = msgspec.json.decode(response.content)
            except msgspec.DecodeError:
                answer = None
            if not isinstance(answer, dict):
                reason = f"unreadable answer (HTTP {response.status_code})"
                log.warning("wechat answer unreadable", extra={"path": path, "status": response.status_code})
                break
            if answer.get("errcode") == SYSTEM_BUSY:
                reason = "system busy"
                log.warning("wechat busy", extra={"path": path, "attempt": attempt})
                continue
            return answer
        raise WeChatUnavailable(f"WeChat {reason}", retry_after=self._settings.wechat_retry_after)

    async def _with_token(
        self, path: str, body: dict[str, Any], *, repeatable: bool, image: bool = False
    ) -> dict[str, Any]:
        token = await self.tokens.get()
        params = {"access_token": token}
        answer = await self._request("POST", path, params=params, body=body, repeatable=repeatable, image=image)
        if answer.get("errcode") in TOKEN_INVALID_ERRCODES:
            # The call was refused before anything happened, so it is safe to send again with a new token.
            params = {"access_token": await self.tokens.get(stale=token)}
            answer = await self._request("POST", path, params=params, body=body, repeatable=repeatable, image=image)
        return answer

    @staticmethod
    def _raise_for(answer: dict[str, Any], known: dict[int, str] | None = None) -> None:
        errcode = answer.get("errcode") or 0
        if not isinstance(errcode, int):
            raise WeChatError(None)
        if errcode == 0:
            return
        if errcode == RATE_LIMITED_ERRCODE:
            raise WeChatError(errcode, "rate_limited", retry_after=RATE_LIMITED_RETRY_AFTER)
        raise WeChatError(errcode, (known or {}).get(errcode, "wechat_error"))

    # -- access token --------------------------------------------------------------------------------------

    async def _fetch_access_token(self, force_refresh: bool) -> tuple[str, int]:
        body = {
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self._secret,
            "force_refresh": force_refresh,
        }
        # A normal-mode call returns the current token again, so repeating it is harmless; a forced one is not.
        answer = await self._request("POST", "/cgi-bin/stable_token", body=body, repeatable=not force_refresh)
        self._raise_for(answer)
        token, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(token, str) or not isinstance(expires_in, int):
            raise WeChatError(None)
        return token, expires_in

    # -- login ---------------------------------------------------------------------------------------------

    async def code_to_session(self, code: str) -> CodeSession:
        """wx.login's code -> openid, unionid (when bound to an open-platform account) and session_key."""
        params = {"appid": self.appid, "secret": self._secret, "js_code": code, "grant_type": "authorization_code"}
        answer = await self._request("GET", "/sns/jscode2session", params=params, repeatable=False)
        self._raise_for(answer, {40029: INVALID_CODE, 40163: CODE_USED})
        openid, session_key, unionid = answer.get("openid"), answer.get("session_key"), answer.get("unionid")
        if not isinstance(openid, str) or not isinstance(session_key, str) or not openid:
            raise WeChatError(None)
        return CodeSession(openid=openid, session_key=session_key, unionid=unionid or None)

    async def phone_number(self, code: str) -> PhoneNumber:
        """The phone number behind a getPhoneNumber button's code (single use, 5 minutes)."""
        answer = await self._with_token("/wxa/business/getuserphonenumber", {"code": code}, repeatable=False)
        # Not the login's codes: those tell the client to log in again, which cannot mend a button's code.
        self._raise_for(answer, {40029: PHONE_CODE_INVALID, 40163: PHONE_CODE_INVALID})
        info = answer.get("phone_info")
        if not isinstance(info, dict) or (info.get("watermark") or {}).get("appid", self.appid) != self.appid:
            raise WeChatError(None)
        try:
            return PhoneNumber(
                phone_number=str(info["phoneNumber"]),
                pure_phone_number=str(info["purePhoneNumber"]),
                country_code=str(info["countryCode"]),
            )
        except KeyError:
            raise WeChatError(None) from None

    # -- mini-program codes ---------------------------------------------------------------------------------

    async def unlimited_code(self, scene: str, page: str, *, width: int = 430, check_path: bool = True) -> bytes:
        """wxacode.getUnlimited: the image of a mini-program code opening ``page`` with ``scene`` (at most 32
        visible characters), which the page reads from its launch options. Drawing it again is harmless."""
        body = {"scene": scene, "page": page, "width": width, "check_path": check_path}
        answer = await self._with_token("/wxa/getwxacodeunlimit", body, repeatable=True, image=True)
        if isinstance(image := answer.get("image"), bytes) and image:
            return image
        self._raise_for(answer)
        raise WeChatError(None)

    # -- content safety and messages -----------------------------------------------------------------------

    async def check_text(self, openid: str, scene: Scene, content: str) -> ContentVerdict:
        """msg_sec_check v2. Raises WeChatError 61010 when the member has not visited in the last 2 hours."""
        body = {"content": content, "version": 2, "scene": scene, "openid": openid}
        answer = await self._with_token("/wxa/msg_sec_check", body, repeatable=True)
        self._raise_for(answer)
        result = answer.get("result")
        if not isinstance(result, dict) or result.get("suggest") not in ("pass", "review", "risky"):
            raise WeChatError(None)
        return ContentVerdict(
            suggest=result["suggest"], label=int(result.get("label", 100)), trace_id=answer.get("trace_id")
        )

    async def check_media(self, openid: str, scene: Scene, media_url: str) -> str:
        """media_check_async v2 for an image WeChat downloads itself from ``media_url``; the trace_id its verdict
        (the `wxa_media_check` push) will carry. 61010 when the member has not visited in the last 2 hours."""
        body = {"media_url": media_url, "media_type": 2, "version": 2, "scene": scene, "openid": openid}
        # Not repeated after it may have reached WeChat: a second submission is a second check (and a second push).
        answer = await self._with_token("/wxa/media_check_async", body, repeatable=False)
        self._raise_for(answer)
        trace_id = answer.get("trace_id")
        if not isinstance(trace_id, str) or not trace_id:
            raise WeChatError(None)
        return trace_id

    async def send_subscribe_message(
        self,
        openid: str,
        template_id: str,
        data: dict[str, str],
        *,
        page: str | None = None,
        state: Literal["developer", "trial", "formal"] = "formal",
    ) -> SubscribeResult:
        """Send one subscribe message; 43101 (no consent left) is a result to record, not an error to retry."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
            "miniprogram_state": state,
            "lang": "zh_CN",
        }
        if page:
            body["page"] = page
        answer = await self._with_token("/cgi-bin/message/subscribe/send", body, repeatable=False)
        if answer.get("errcode") == NO_CONSENT_ERRCODE:
            return SubscribeResult(sent=False, errcode=NO_CONSENT_ERRCODE)
        self._raise_for(answer)
        return SubscribeResult(sent=True)

    async def send_custom_text(self, openid: str, text: str) -> None:
        """A customer-service text message (the keyword robot's reply)."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        answer = await self._with_token("/cgi-bin/message/custom/send", body, repeatable=False)
        self._raise_for(answer)
