"""WeChat's mini-program server API as the sandbox emulates it: WeChat's paths, request and answer shapes,
and errcodes (see /work/shared/WECHAT.md). Errors are HTTP 200 with ``{errcode, errmsg}``, as WeChat does.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from PIL import Image

from service.wechat.sandbox.state import Sandbox, SandboxState

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40008: "invalid message type",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40163: "code been used",
    40169: "invalid length for scene, or the data is not json string",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41008: "missing code",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    44004: "empty content",
    45002: "content size out of limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    41030: "invalid page rid",
    47003: "argument invalid! data.value invalid",
    61010: "user has not visited the mini program in the last 2 hours",
}
CONTENT_MAX_CHARS = 2500
MESSAGE_TYPES = frozenset({"text", "image", "link", "miniprogrampage"})


def _rid() -> str:
    return secrets.token_hex(4) + "-" + secrets.token_hex(4)


def wechat_error(errcode: int, media_type: str = "application/json") -> Response:
    body = {"errcode": errcode, "errmsg": f"{ERRMSG.get(errcode, 'error')} rid: {_rid()}"}
    return Response(msgspec.json.encode(body), status_code=200, media_type=media_type)


def wechat_ok(body: dict[str, Any], media_type: str = "application/json") -> Response:
    return Response(msgspec.json.encode({"errcode": 0, "errmsg": "ok", **body}), media_type=media_type)


def _check_app(sandbox: SandboxState, appid: object, secret: object) -> int:
    if not appid:
        return 41002
    if appid != sandbox.config.appid:
        return 40013
    if not secret:
        return 41004
    if not secrets.compare_digest(str(secret), sandbox.config.secret):
        return 40125
    return 0


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = msgspec.json.decode(await request.body())
    except msgspec.DecodeError:
        return None
    return body if isinstance(body, dict) else None


async def token_call(request: Request, sandbox: Sandbox, name: str) -> dict[str, Any] | Response:
    """Count a call made with an access_token, check the token and read the JSON object: the body, or WeChat's
    error answer."""
    sandbox.stats[name] += 1
    if errcode := sandbox.check_token(request.query_params.get("access_token")):
        return wechat_error(errcode)
    body = await _json_object(request)
    return wechat_error(47001) if body is None else body


class MiniProgramApi(Controller):
    """Login, access token, phone number, content safety, subscribe and customer-service messages."""

    path = "/"
    include_in_schema = False

    @get("/sns/jscode2session")
    async def jscode2session(self, request: Request, sandbox: Sandbox) -> Response:
        # WeChat answers this one as text/plain: a client must not rely on the content type.
        plain = "text/plain"
        sandbox.stats["jscode2session"] += 1
        query = request.query_params
        if errcode := _check_app(sandbox, query.get("appid"), query.get("secret")):
            return wechat_error(errcode, plain)
        if query.get("grant_type") != "authorization_code":
            return wechat_error(40002, plain)
        code = query.get("js_code")
        if not code:
            return wechat_error(41008, plain)
        pending = sandbox.login_codes.get(code)
        if pending is not None and not sandbox.count_login_call(pending.openid):
            return wechat_error(45011, plain)
        errcode, entry = sandbox.redeem(sandbox.login_codes, code, sandbox.config.code_ttl)
        if entry is None:
            return wechat_error(errcode, plain)
        user = sandbox.users[entry.openid]
        answer: dict[str, Any] = {"session_key": user.session_key, "openid": user.openid}
        if user.unionid:
            answer["unionid"] = user.unionid
        # A successful jscode2session answer carries no errcode at all.
        return Response(msgspec.json.encode(answer), media_type=plain)

    @post("/cgi-bin/stable_token", status_code=200)
    async def stable_token(self, request: Request, sandbox: Sandbox) -> Response:
        sandbox.stats["stable_token"] += 1
        body = await _json_object(request)
        if body is None:
            return wechat_error(47001)
        if body.get("grant_type") != "client_credential":
            return wechat_error(40002)
        if errcode := _check_app(sandbox, body.get("appid"), body.get("secret")):
            return wechat_error(errcode)
        force = body.get("force_refresh", False)
        if not isinstance(force, bool):
            return wechat_error(47001)
        if force:
            sandbox.stats["force_refresh"] += 1
        token = sandbox.stable_token(force)
        expires_in = max(0, int(token.expires_at - sandbox.now()))
        return Response(msgspec.json.encode({"access_token": token.value, "expires_in": expires_in}))

    @post("/wxa/business/getuserphonenumber", status_code=200)
    async def phone_number(self, request: Request, sandbox: Sandbox) -> Response:
        body = await token_call(request, sandbox, "getuserphonenumber")
        if isinstance(body, Response):
            return body
        if not isinstance(code := body.get("code"), str) or not code:
            return wechat_error(41008)
        errcode, entry = sandbox.redeem(sandbox.phone_codes, code, sandbox.config.phone_code_ttl)
        if entry is None:
            return wechat_error(errcode)
        pure = entry.phone_number or ""
        shown = pure if entry.country_code == "86" else f"+{entry.country_code} {pure}"
        info = {
            "phoneNumber": shown,
            "purePhoneNumber": pure,
            "countryCode": entry.country_code,
            "watermark": {"timestamp": int(sandbox.now()), "appid": sandbox.config.appid},
        }
        return wechat_ok({"phone_info": info})

    @post("/wxa/msg_sec_check", status_code=200)
    async def msg_sec_check(self, request: Request, sandbox: Sandbox) -> Response:
        body = await token_call(request, sandbox, "msg_sec_check")
        if isinstance(body, Response):
            return body
        if body.get("version") != 2 or body.get("scene") not in (1, 2, 3, 4):
            return wechat_error(47001)
        content, openid = body.get("content"), body.get("openid")
        if not isinstance(content, str) or not isinstance(openid, str):
            return wechat_error(47001)
        user = sandbox.user(openid=openid)
        if user is None:
            return wechat_error(40003)
        if sandbox.config.require_recent_visit and sandbox.now() - user.last_visit > sandbox.config.visit_window:
            return wechat_error(61010)
        if not content.strip():
            return wechat_error(44004)
        if len(content) > CONTENT_MAX_CHARS:
            return wechat_error(45002)
        suggest, label, keyword = "pass", 100, None
        lowered = content.lower()
        for verdict, words in (("risky", sandbox.risky_words), ("review", sandbox.review_words)):
            hit = next((word for word in words if word.lower() in lowered), None)
            if hit is not None:
                suggest, label, keyword = verdict, words[hit], hit
                break
        detail = [
            {"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90},
            {"strategy": "keyword", "errcode": 0, "suggest": suggest, "label": label, "level": 20, "keyword": keyword},
        ]
        if keyword is None:
            detail = detail[:1]
        return wechat_ok({"result": {"suggest": suggest, "label": label}, "detail": detail, "trace_id": _rid()})

    @post("/cgi-bin/message/subscribe/send", status_code=200)
    async def subscribe_send(self, request: Request, sandbox: Sandbox) -> Response:
        body = await token_call(request, sandbox, "subscribe_send")
        if isinstance(body, Response):
            return body
        openid, template_id, data = body.get("touser"), body.get("template_id"), body.get("data")
        if not isinstance(openid, str) or sandbox.user(openid=openid) is None:
            return wechat_error(40003)
        if not isinstance(template_id, str) or not template_id:
            return wechat_error(40037)
        if not isinstance(data, dict) or not all(
            isinstance(item, dict) and isinstance(item.get("value"), str) for item in data.values()
        ):
            return wechat_error(47003)
        if body.get("miniprogram_state", "formal") not in ("developer", "trial", "formal"):
            return wechat_error(47001)
        if sandbox.consents[(openid, template_id)] <= 0:
            return wechat_error(43101)
        sandbox.consents[(openid, template_id)] -= 1
        sandbox.subscribe_messages.append({"openid": openid, "sentAt": sandbox.now(), "message": body})
        return wechat_ok({"msgid": secrets.randbits(60)})

    @post("/cgi-bin/message/custom/send", status_code=200)
    async def custom_send(self, request: Request, sandbox: Sandbox) -> Response:
        body = await token_call(request, sandbox, "custom_send")
        if isinstance(body, Response):
            return body
        openid, msgtype = body.get("touser"), body.get("msgtype")
        if not isinstance(openid, str) or sandbox.user(openid=openid) is None:
            return wechat_error(40003)
        if msgtype not in MESSAGE_TYPES or not isinstance(body.get(msgtype), dict):
            return wechat_error(40008)
        if msgtype == "text" and not str(body["text"].get("content") or "").strip():
            return wechat_error(44004)
        sandbox.custom_messages.append({"openid": openid, "sentAt": sandbox.now(), "message": body})
        return wechat_ok({})


SCENE_MAX_CHARS = 32
CODE_MODULES = 21  # the drawn code is a grid of this many modules a side


def _code_png(scene: str, page: str, width: int) -> bytes:
    """A PNG standing in for WeChat's code: a grid drawn from the scene and page, so equal asks draw equal codes."""
    bits = int.from_bytes(hashlib.sha512(f"{page}?{scene}".encode()).digest())
    grid = Image.new("1", (CODE_MODULES, CODE_MODULES), 1)
    for i in range(CODE_MODULES * CODE_MODULES):
        grid.putpixel((i % CODE_MODULES, i // CODE_MODULES), (bits >> i) & 1)
    out = io.BytesIO()
    grid.resize((width, width), Image.Resampling.NEAREST).save(out, format="PNG")
    return out.getvalue()


class MiniProgramCodes(Controller):
    """wxacode.getUnlimited: answers the code's image itself (JSON only for an error), as WeChat does."""

    path = "/wxa"
    include_in_schema = False

    @post("/getwxacodeunlimit", status_code=200)
    async def unlimited(self, request: Request, sandbox: Sandbox) -> Response:
        body = await token_call(request, sandbox, "getwxacodeunlimit")
        if isinstance(body, Response):
            return body
        scene, page = body.get("scene"), body.get("page", "pages/index/index")
        if not isinstance(scene, str) or not scene or len(scene) > SCENE_MAX_CHARS:
            return wechat_error(40169)
        # WeChat checks the page is in the published version; the sandbox's published pages live under pages/.
        if not isinstance(page, str) or (body.get("check_path", True) and not page.startswith("pages/")):
            return wechat_error(41030)
        width = body.get("width", 430)
        width = min(max(width if isinstance(width, int) else 430, 280), 1280)  # WeChat clamps the width
        return Response(_code_png(scene, page, width), media_type="image/png")
