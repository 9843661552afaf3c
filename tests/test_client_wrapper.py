"""openapi/client, compiled by tsc, against the whole stack through the strict wx (tests/client/wx.cjs,
tests/client/scenario.cjs): bearer token, one shared refresh on 401, silent re-login, the end of a session, problems
as values, a paid join through wx.requestPayment, Retry-After and Idempotency-Key reuse, wechat_session_stale; upload()
through wx.uploadFile keeps the session the same way (tests/client/upload_session.cjs)."""

from __future__ import annotations

import asyncio
import json
import subprocess

from PIL import Image

from service.app import create_app
from tests.stack import full_stack
from tests.support import KIT, ROOT, node_tool, serve
from tests.test_wx_contract import node

# What the wrapper says when a refused session cannot be renewed (wx.login's code refused too): it ends the
# session and forgets the tokens, whichever call found it.
SESSION_OVER = {"ok": False, "status": 401, "code": "unauthorized", "ended": ["invalid_code"], "tokens": None}


def compile_client(out) -> str:
    subprocess.run(
        [
            node_tool("tsc"),
            *("client/index.ts", "--outDir", str(out), "--module", "commonjs", "--target", "ES2020"),
            *("--types", "miniprogram-api-typings", "--skipLibCheck", "--strict"),
        ],
        cwd=KIT,
        check=True,
        timeout=300,
    )
    return str(out / "client" / "index.js")


async def test_the_wrapper_against_the_api(database_url, pay_keys, tmp_path):
    compiled = await asyncio.to_thread(compile_client, tmp_path / "js")
    photo, text = tmp_path / "tmp_photo.jpg", tmp_path / "tmp_note.jpg"
    Image.new("RGB", (320, 240), (30, 120, 200)).save(photo, "JPEG")
    text.write_text("not a photo")
    # The whole stack: WeChat Pay's sandbox pays an order and notifies the API.
    async with full_stack(database_url, pay_keys) as stack:
        api, sandbox = stack.api_url, stack.sandbox
        node = await asyncio.create_subprocess_exec(
            "node",
            str(ROOT / "tests" / "client" / "scenario.cjs"),
            compiled,
            api,
            sandbox.url,
            str(photo),
            str(text),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(node.communicate(), timeout=60)
    assert node.returncode == 0, err.decode()
    seen = json.loads(out)
    assert seen["login"] and seen["me"]
    assert seen["upload"] == {
        "ok": True,
        "status": 201,
        "id": "string",
        "purpose": "checkin",
        "refused": {
            "status": 415,
            "code": "media_unsupported_type",
            "message": "只支持 JPG、PNG、WebP、GIF 和 HEIC 格式的图片。",
        },
    }
    assert seen["renewed"] == {"ok": True, "nickname": "Carol", "refreshes": 1}
    assert seen["together"] == {"ok": [True, True, True], "refreshes": 2}
    assert seen["missing"] == {"ok": False, "status": 404, "code": "not_found"}
    assert seen["relogged"] == {"ok": True, "logins": 1, "ended": []}
    assert seen["over"] == SESSION_OVER
    assert seen["pay"] == {"outcome": "payment", "status": "paid", "sheets": 1, "member": "active"}
    assert seen["retry"]["ok"] and seen["retry"]["waitedMs"] >= 900
    assert len(seen["retry"]["keys"]) == 2 and seen["retry"]["keys"][0] == seen["retry"]["keys"][1]
    assert seen["retry"]["keys"][0]
    assert seen["stale"] == {
        "ok": True,
        "calls": ["POST /v1/auth/phone Bearer a", "POST /v1/auth/login undefined", "POST /v1/auth/phone Bearer fresh"],
    }
    # Every problem has a Chinese text to show: no answer at all, or a proxy's page instead of problem+json.
    assert seen["offline"] == {
        "ok": False,
        "status": 0,
        "code": "network_error",
        "message": "网络不给力，请检查网络后重试。",
    }
    assert seen["gateway"] == {"status": 502, "code": "internal_error", "message": "服务开小差了，请稍后再试。"}
    # More calls at once than wx.request allows in flight (10): queued, none refused.
    assert seen["crowd"] == [200] * 14


async def test_upload_renews_a_refused_session_and_waits_out_retry_after(settings, sandbox, tmp_path):
    # wx.uploadFile, not wx.request: the photo after the app was in the background longer than a token lives.
    compiled = await asyncio.to_thread(compile_client, tmp_path / "js")
    photo = tmp_path / "tmp_photo.jpg"
    Image.new("RGB", (320, 240), (30, 120, 200)).save(photo, "JPEG")
    async with serve(create_app(settings)) as api:
        seen = await node("upload_session.cjs", compiled, api, sandbox.url, str(photo))
    assert seen["refused"] == {
        "ok": True,
        "status": 201,
        "purpose": "post",
        "refreshes": 1,
        "uploads": ["uploadFile", "uploadFile"],
        "ended": [],
    }
    assert seen["over"] == SESSION_OVER
    # The app's own repeat with its key answers the same upload; an upload without one gets a new key.
    assert seen["again"] == {"ok": [True, True, True], "same": True, "fresh": True}
    # The 429's wait comes from its problem body: wx.uploadFile hands back no headers.
    assert seen["retry"]["ok"] and seen["retry"]["id"] == "7" and seen["retry"]["waitedMs"] >= 900
    assert seen["retry"]["calls"] == ["POST /v1/media Bearer a"] * 2
    # One Idempotency-Key per upload, sent again with each of its repeats (after a wait, after a new login).
    retry_key, stale_key = seen["retry"]["keys"][0], seen["stale"]["keys"][0]
    assert retry_key and seen["retry"]["keys"] == [retry_key] * 2
    assert stale_key and seen["stale"]["keys"] == [stale_key] * 2 and stale_key != retry_key
    assert seen["stale"] == {
        "ok": True,
        "id": "8",
        "calls": ["POST /v1/media Bearer a", "POST /v1/auth/login undefined", "POST /v1/media Bearer fresh"],
        "keys": [stale_key] * 2,
    }
    assert seen["proxy"] == {
        "ok": False,
        "status": 413,
        "code": "payload_too_large",
        "message": "内容太大了，请精简后再试。",
    }


async def test_the_live_socket_example_of_the_docs(settings, sandbox, tmp_path):
    """docs/live.md's app.js as written, with the kit as `api`, through the strict wx.connectSocket: it opens with
    the kit's token, reopens once after a refused handshake (one socket at a time: a refused handshake fires onError
    and onClose), and does not reopen a socket replaced by the member's other device (4409)."""
    compiled = await asyncio.to_thread(compile_client, tmp_path / "js")
    async with serve(create_app(settings)) as api:
        seen = await node(
            "live_reconnect.cjs", compiled, api, sandbox.url, flags=("--experimental-websocket",), timeout=60
        )
    # The refused handshake: onError only here (node's WebSocket), onError and onClose elsewhere; one reopening.
    assert seen["ready"]
    assert seen["renewed"] == {"sockets": 2, "closes": []}
    assert seen["replaced"] == {"sockets": 2, "closes": [4409], "theirs": []}
