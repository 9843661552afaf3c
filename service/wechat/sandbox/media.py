"""WeChat's asynchronous image check as the sandbox emulates it (/work/shared/WECHAT.md, "Images").

`POST /wxa/media_check_async` answers a trace_id at once. After `media_check_delay` seconds the sandbox
downloads `media_url` over real HTTP, as WeChat does (an unreachable, expired or wrongly signed URL gets no
verdict, and the image stays unchecked until it is submitted again), decides by the content's sha256 (pass
unless a control call marked it risky or review), and pushes the signed `wxa_media_check` event to the message
URL, trying three times like WeChat.

Controls under /sandbox/media: mark a content hash, hold checks (nothing is delivered until released, so a test
can decide the order of events), release them (`repeat` > 1 pushes each verdict again: WeChat's duplicates),
drop them (the verdict that never comes), list every submission, and push each verdict before answering its
trace_id (`push-before-answer`: the push that beats the caller's storing of that trace_id, as WeChat's can).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Literal

import httpx
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody
from PIL import Image
from wechatpy.utils import WeChatSigner

from service.wechat.sandbox.miniprogram import token_call, wechat_error, wechat_ok
from service.wechat.sandbox.state import Sandbox, SandboxState
from service.wechat.tls import tls_context

log = logging.getLogger("service.wechat.sandbox")
MAX_IMAGE_BYTES = 10 * 1024 * 1024
PUSH_ATTEMPTS = 3
LABELS = {"pass": 100, "review": 21000, "risky": 20002}


@dataclass
class MediaCheck:
    trace_id: str
    openid: str
    url: str
    scene: int
    submitted_at: float
    state: str = "queued"  # queued, held, fetch_failed, pushed, push_failed, dropped
    sha256: str | None = None
    suggest: str | None = None
    pushes: int = 0
    answer: str | None = None  # the body of the message URL's last 200 answer (the API's `success`)


def _push_signature(token: str, timestamp: str, nonce: str) -> str:
    signer = WeChatSigner()  # what the API's wechatpy.utils.check_signature checks against
    signer.add_data(token, timestamp, nonce)
    return signer.signature


async def _deliver(sandbox: SandboxState, check: MediaCheck, repeat: int = 1) -> None:
    config = sandbox.config
    async with httpx.AsyncClient(verify=tls_context(), timeout=10) as http:
        try:
            fetched = await http.get(check.url)
        except httpx.HTTPError:
            fetched = None
        if fetched is None or fetched.status_code != 200 or len(fetched.content) > MAX_IMAGE_BYTES:
            check.state = "fetch_failed"
            return
        check.sha256 = hashlib.sha256(fetched.content).hexdigest()
        check.suggest = sandbox.media_rules.get(check.sha256, "pass")
        if not config.message_push_url:
            check.state = "push_failed"
            return
        label = LABELS[check.suggest]
        event = {
            "ToUserName": "gh_sandbox",
            "FromUserName": check.openid,
            "CreateTime": int(sandbox.now()),
            "MsgType": "event",
            "Event": "wxa_media_check",
            "appid": config.appid,
            "trace_id": check.trace_id,
            "version": 2,
            "detail": [{"strategy": "content_model", "errcode": 0, "suggest": check.suggest, "label": label}],
            "errcode": 0,
            "errmsg": "ok",
            "result": {"suggest": check.suggest, "label": label},
        }
        body = msgspec.json.encode(event)
        for _ in range(repeat):
            for attempt in range(PUSH_ATTEMPTS):
                timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
                query = {
                    "signature": _push_signature(config.message_token, timestamp, nonce),
                    "timestamp": timestamp,
                    "nonce": nonce,
                }
                try:
                    answer = await http.post(config.message_push_url, params=query, content=body)
                    delivered = answer.status_code == 200
                except httpx.HTTPError:
                    delivered = False
                if delivered:
                    check.pushes += 1
                    check.answer = answer.text
                    break
                await asyncio.sleep(0.2 * (attempt + 1))
        check.state = "pushed" if check.pushes else "push_failed"


async def _after_delay(sandbox: SandboxState, check: MediaCheck) -> None:
    await asyncio.sleep(sandbox.config.media_check_delay)
    if sandbox.media_hold:
        check.state = "held"
        return
    await _deliver(sandbox, check)


class MediaRule(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    sha256: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
    suggest: Literal["pass", "review", "risky"]


class Hold(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    hold: bool


class PushBeforeAnswer(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    push_before_answer: bool


class Release(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    repeat: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1


class MediaCheckView(msgspec.Struct, rename="camel"):
    trace_id: str
    openid: str
    url: str
    scene: int
    state: str
    sha256: str | None
    suggest: str | None
    pushes: int
    answer: str | None


def _listed(checks: list[MediaCheck]) -> dict[str, list[MediaCheckView]]:
    return {"items": [msgspec.convert(check, MediaCheckView, from_attributes=True) for check in checks]}


class MediaCheckApi(Controller):
    path = "/"
    include_in_schema = False

    @post("/wxa/media_check_async", status_code=200)
    async def media_check_async(self, request: Request, sandbox: Sandbox) -> Response:
        body = await token_call(request, sandbox, "media_check_async")
        if isinstance(body, Response):
            return body
        url, openid = body.get("media_url"), body.get("openid")
        if body.get("version") != 2 or body.get("media_type") not in (1, 2) or body.get("scene") not in (1, 2, 3, 4):
            return wechat_error(47001)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return wechat_error(47001)
        if not isinstance(openid, str) or (user := sandbox.user(openid=openid)) is None:
            return wechat_error(40003)
        if sandbox.config.require_recent_visit and sandbox.now() - user.last_visit > sandbox.config.visit_window:
            return wechat_error(61010)
        check = MediaCheck(secrets.token_hex(12), openid, url, int(body["scene"]), sandbox.now())
        sandbox.media_checks.append(check)
        if sandbox.media_push_before_answer:  # no delay, no hold: the caller gets the trace_id after its verdict
            await _deliver(sandbox, check)
            return wechat_ok({"trace_id": check.trace_id})
        task = asyncio.get_running_loop().create_task(_after_delay(sandbox, check))
        sandbox.tasks.add(task)
        task.add_done_callback(sandbox.tasks.discard)
        return wechat_ok({"trace_id": check.trace_id})


class MediaControl(Controller):
    path = "/sandbox/media"
    include_in_schema = False

    @post("/rules", status_code=200)
    async def mark(self, data: JSONBody[MediaRule], sandbox: Sandbox) -> MediaRule:
        """The verdict for an image by the sha256 of the bytes WeChat downloads (what the API serves)."""
        sandbox.media_rules[data.sha256] = data.suggest
        return data

    @post("/hold", status_code=200)
    async def hold(self, data: JSONBody[Hold], sandbox: Sandbox) -> Hold:
        sandbox.media_hold = data.hold
        return data

    @post("/push-before-answer", status_code=200)
    async def push_before_answer(self, data: JSONBody[PushBeforeAnswer], sandbox: Sandbox) -> PushBeforeAnswer:
        """While on, media_check_async fetches the image and pushes its verdict (waiting for the push's answer)
        before it answers the trace_id, ignoring the delay and any hold: the caller has not stored that trace_id
        when the verdict arrives, the race WeChat's push can win."""
        sandbox.media_push_before_answer = data.push_before_answer
        return data

    @post("/release", status_code=200)
    async def release(self, data: JSONBody[Release], sandbox: Sandbox) -> dict[str, list[MediaCheckView]]:
        """Deliver every held check now (and wait for it); `repeat` pushes each verdict that many times."""
        await asyncio.gather(*list(sandbox.tasks))  # checks still in their delay join the held ones
        held = [check for check in sandbox.media_checks if check.state == "held"]
        await asyncio.gather(*(_deliver(sandbox, check, data.repeat) for check in held))
        return _listed(held)

    @post("/drop", status_code=200)
    async def drop(self, sandbox: Sandbox) -> dict[str, list[MediaCheckView]]:
        """Forget every held check: their verdicts never come."""
        await asyncio.gather(*list(sandbox.tasks))
        dropped = [check for check in sandbox.media_checks if check.state == "held"]
        for check in dropped:
            check.state = "dropped"
        return _listed(dropped)

    @get("/checks")
    async def checks(self, sandbox: Sandbox) -> dict[str, list[MediaCheckView]]:
        return _listed(sandbox.media_checks)

    @get("/sample-photo.jpg", media_type="image/jpeg")
    async def sample_photo(self) -> Response[bytes]:
        """A photo as a phone takes it, to try uploads with curl: 1200x900, EXIF with GPS and orientation 6."""
        return Response(_sample_jpeg(), media_type="image/jpeg")


@functools.cache
def _sample_jpeg() -> bytes:
    image = Image.new("RGB", (1200, 900), (70, 130, 180))
    image.paste((240, 200, 60), (0, 0, 300, 225))
    exif = Image.Exif()
    exif[0x0112] = 6  # the phone was held upright
    exif[0x8825] = {1: "N", 2: (30.0, 15.0, 9.0), 3: "E", 4: (120.0, 9.0, 41.0)}  # GPS: a member's home
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()
