"""The sandbox's own control endpoints under /sandbox: what the mini program or WeChat's servers would do
(wx.login, the phone button, subscribe consent, open data, a group chat's shareTicket and wx.getShareInfo), fault
injection, the clock, and inspection.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, QueryParameter
from wechatpy.crypto.cryptography import WeChatCipher
from wechatpy.crypto.pkcs7 import PKCS7Encoder

from service.wechat.sandbox.state import Fault, Sandbox, SandboxState, SandboxUser

UserName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Camel(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    pass


class WxLogin(Camel):
    user: UserName
    with_unionid: bool = False


class WxLoginAnswer(Camel):
    code: str
    openid: str


class PhoneCodeRequest(Camel):
    user: UserName
    phone_number: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{5,20}$")] | None = None
    country_code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,4}$")] = "86"


class CodeAnswer(Camel):
    code: str


class ConsentRequest(Camel):
    user: UserName
    template_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    count: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1


class OpenDataRequest(Camel):
    user: UserName
    data: dict[str, Any]


class OpenDataAnswer(Camel):
    encrypted_data: str
    iv: str
    raw_data: str
    signature: str


class ShareTicketRequest(Camel):
    group: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class ShareTicketAnswer(Camel):
    share_ticket: str
    open_gid: str  # what WeChat knows; a client only ever sees it encrypted


class ShareInfoRequest(Camel):
    user: UserName
    share_ticket: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class ShareInfoAnswer(Camel):
    encrypted_data: str
    iv: str


class FaultRequest(Camel):
    mode: Literal["busy", "http500", "slow"]
    delay_seconds: Annotated[float, msgspec.Meta(ge=0, le=60)] = 0.0
    count: Annotated[int, msgspec.Meta(ge=1)] | None = None
    path_prefix: str = "/"


class RevokeTokenRequest(Camel):
    errcode: Literal[40001, 42001] = 42001


class ContentRules(Camel):
    risky: dict[str, int] = msgspec.field(default_factory=dict)
    review: dict[str, int] = msgspec.field(default_factory=dict)


class ClockRequest(Camel):
    advance_seconds: Annotated[float, msgspec.Meta(ge=0, le=10 * 365 * 86400)]


class Items(msgspec.Struct):
    items: list[dict[str, Any]]


def _visited(sandbox: SandboxState, name: str) -> SandboxUser:
    user = sandbox.user(name=name)
    if user is None:
        raise NotFoundException(f"user {name!r} has not called wx-login yet")
    return user


def seal_open_data(
    sandbox: SandboxState, user: SandboxUser, data: dict[str, Any], *, appid: str | None = None
) -> OpenDataAnswer:
    """What wx.getUserInfo / getShareInfo hand the client: AES-128-CBC under the current session_key
    (``appid``: the watermark of another mini program, for tests of that check)."""
    watermark = {"timestamp": int(sandbox.now()), "appid": appid or sandbox.config.appid}
    payload = {**data, "watermark": watermark}
    iv = os.urandom(16)
    cipher = WeChatCipher(base64.b64decode(user.session_key), iv)
    encrypted = cipher.encrypt(PKCS7Encoder.encode(json.dumps(payload, ensure_ascii=False).encode()))
    raw_data = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return OpenDataAnswer(
        encrypted_data=base64.b64encode(encrypted).decode(),
        iv=base64.b64encode(iv).decode(),
        raw_data=raw_data,
        signature=hashlib.sha1((raw_data + user.session_key).encode()).hexdigest(),
    )


class SandboxControl(Controller):
    path = "/sandbox"
    include_in_schema = False

    @post("/wx-login", status_code=200)
    async def wx_login(self, data: JSONBody[WxLogin], sandbox: Sandbox) -> WxLoginAnswer:
        """Stands in for wx.login: a code valid once for 5 minutes; the same name is always the same openid."""
        user = sandbox.visit(data.user, with_unionid=data.with_unionid)
        return WxLoginAnswer(code=sandbox.new_login_code(user), openid=user.openid)

    @post("/phone-code", status_code=200)
    async def phone_code(self, data: JSONBody[PhoneCodeRequest], sandbox: Sandbox) -> CodeAnswer:
        """Stands in for the getPhoneNumber button: a single-use code for the user's phone number."""
        user = _visited(sandbox, data.user)
        number = data.phone_number or "138" + str(int(hashlib.sha256(user.openid.encode()).hexdigest(), 16))[-8:]
        return CodeAnswer(code=sandbox.new_phone_code(user, number, data.country_code))

    @post("/subscribe-consent", status_code=200)
    async def subscribe_consent(self, data: JSONBody[ConsentRequest], sandbox: Sandbox) -> dict[str, int]:
        """Stands in for wx.requestSubscribeMessage accepted: each consent allows one message."""
        user = _visited(sandbox, data.user)
        sandbox.consents[(user.openid, data.template_id)] += data.count
        return {"remaining": sandbox.consents[(user.openid, data.template_id)]}

    @post("/open-data", status_code=200)
    async def open_data(self, data: JSONBody[OpenDataRequest], sandbox: Sandbox) -> OpenDataAnswer:
        """encryptedData, iv, rawData and signature for ``data``, as the client would receive them."""
        return seal_open_data(sandbox, _visited(sandbox, data.user), data.data)

    @post("/share-ticket", status_code=200)
    async def share_ticket(self, data: JSONBody[ShareTicketRequest], sandbox: Sandbox) -> ShareTicketAnswer:
        """Stands in for tapping a share's card in the group chat ``group``: the launch options' shareTicket."""
        ticket = sandbox.new_share_ticket(data.group)
        return ShareTicketAnswer(share_ticket=ticket, open_gid=sandbox.share_tickets[ticket])

    @post("/share-info", status_code=200)
    async def share_info(self, data: JSONBody[ShareInfoRequest], sandbox: Sandbox) -> ShareInfoAnswer:
        """Stands in for wx.getShareInfo({shareTicket}): {openGId} and its watermark under the user's session_key
        of their latest wx.login. An unknown ticket: 404."""
        user = _visited(sandbox, data.user)
        open_gid = sandbox.share_tickets.get(data.share_ticket)
        if open_gid is None:
            raise NotFoundException("invalid shareTicket")
        sealed = seal_open_data(sandbox, user, {"openGId": open_gid})
        return ShareInfoAnswer(encrypted_data=sealed.encrypted_data, iv=sealed.iv)

    @post("/faults", status_code=200)
    async def set_fault(self, data: JSONBody[FaultRequest], sandbox: Sandbox) -> dict[str, str]:
        """Make WeChat's endpoints (not /sandbox) busy (-1), fail with HTTP 500, or slow, ``count`` times."""
        sandbox.fault = Fault(data.mode, data.delay_seconds, data.count, data.path_prefix)
        return {"mode": data.mode}

    @get("/faults")
    async def fault(self, sandbox: Sandbox) -> dict[str, str | int | None]:
        """The fault in force ({} when none): its mode and how many calls it still takes (null: until cleared)."""
        fault = sandbox.fault
        return {} if fault is None else {"mode": fault.mode, "remaining": fault.remaining}

    @delete("/faults", status_code=204)
    async def clear_fault(self, sandbox: Sandbox) -> None:
        sandbox.fault = None

    @post("/access-token/revoke", status_code=200)
    async def revoke_token(self, data: JSONBody[RevokeTokenRequest], sandbox: Sandbox) -> dict[str, int]:
        """Make WeChat refuse the current access token with 42001 (expired) or 40001 (invalid)."""
        if sandbox.current_token is not None:
            sandbox.current_token.refused_with = data.errcode
        return {"errcode": data.errcode}

    @put("/content-rules", status_code=200)
    async def content_rules(self, data: JSONBody[ContentRules], sandbox: Sandbox) -> ContentRules:
        """Replace the words msg_sec_check flags: word -> label."""
        sandbox.risky_words, sandbox.review_words = dict(data.risky), dict(data.review)
        return data

    @post("/clock", status_code=200)
    async def advance_clock(self, data: JSONBody[ClockRequest], sandbox: Sandbox) -> dict[str, float]:
        """Move the sandbox's clock forward (codes and tokens expire) without waiting."""
        sandbox.clock_offset += data.advance_seconds
        return {"now": sandbox.now(), "offsetSeconds": sandbox.clock_offset, "realNow": time.time()}

    @get("/messages/subscribe")
    async def subscribe_messages(
        self, sandbox: Sandbox, openid: Annotated[str | None, QueryParameter(name="openid")] = None
    ) -> Items:
        return Items([m for m in sandbox.subscribe_messages if openid is None or m["openid"] == openid])

    @get("/messages/custom")
    async def custom_messages(
        self, sandbox: Sandbox, openid: Annotated[str | None, QueryParameter(name="openid")] = None
    ) -> Items:
        return Items([m for m in sandbox.custom_messages if openid is None or m["openid"] == openid])

    @delete("/messages", status_code=204)
    async def clear_messages(self, sandbox: Sandbox) -> None:
        sandbox.subscribe_messages.clear()
        sandbox.custom_messages.clear()

    @get("/users/{name:str}")
    async def user(self, name: FromPath[str], sandbox: Sandbox) -> dict[str, str | None]:
        """The openid (and unionid) of a user name: never the session_key."""
        user = _visited(sandbox, name)
        return {"user": user.name, "openid": user.openid, "unionid": user.unionid}

    @get("/stats")
    async def stats(self, sandbox: Sandbox) -> dict[str, int]:
        """Calls per WeChat endpoint, tokens issued, forced refreshes."""
        return dict(sandbox.stats)
