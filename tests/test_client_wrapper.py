"""openapi/client, compiled by tsc, against the whole stack through the strict wx (tests/client/wx.cjs,
tests/client/scenario.cjs): bearer token, one shared refresh on 401, silent re-login, the end of a session, problems
as values, a paid join through wx.requestPayment, Retry-After and Idempotency-Key reuse, wechat_session_stale; upload()
through wx.uploadFile keeps the session the same way (tests/client/upload_session.cjs); live() keeps one socket open by
docs/live.md's rules (tests/client/live_reconnect.cjs)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time

from PIL import Image

from service.app import create_app
from service.core.tokens import issue_access_token
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


async def converse(script: str, *args: str, answer, timeout: float = 90) -> dict:
    """Run a client script that asks the test (a JSON line with `ask`) and waits for the answer (a JSON line);
    its last line is what it saw."""
    process = await asyncio.create_subprocess_exec(
        *("node", "--experimental-websocket", str(ROOT / "tests" / "client" / script), *args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin and process.stdout and process.stderr
    seen: dict = {}
    async with asyncio.timeout(timeout):
        while line := await process.stdout.readline():
            said = json.loads(line)
            if "ask" not in said:
                seen = said
                continue
            process.stdin.write(json.dumps(answer(said)).encode() + b"\n")
            await process.stdin.drain()
        err = await process.stderr.read()
        await process.wait()
    assert process.returncode == 0, err.decode()
    return seen


async def test_the_live_socket_of_the_kit_as_the_docs_use_it(settings, sandbox, tmp_path):
    """docs/live.md's app.js as written, on the kit's live() through the strict wx.connectSocket against the API
    (tests/client/live_reconnect.cjs): what each close code makes of the socket, the session renewed through the
    kit, the view re-sent and the gap caught up after a reconnect, and never two sockets of the app at once."""
    compiled = await asyncio.to_thread(compile_client, tmp_path / "js")
    app = create_app(settings)

    def answer(question: dict) -> dict:
        if question["ask"] == "token":  # an access token that expires while the socket is open
            now = time.time() - settings.access_token_ttl + question["seconds"]
            return {"token": issue_access_token(settings, int(question["userId"]), now=now)}
        for socket in app.state.live.all():  # "drop": what a restarting server does to its sockets
            socket.end(1001, "going_away")
        return {}

    async with serve(app) as api:
        seen = await converse("live_reconnect.cjs", compiled, api, sandbox.url, answer=answer)
    renewal = ["GET /v1/me", "POST /v1/auth/refresh", "GET /v1/me"]
    catch_up = ["GET /v1/communities/{}/feed", "GET /v1/me/notifications"]  # the doc's, on `resync`

    def steps(phase: dict, key: str = "trace") -> list[str]:
        return [re.sub(r"/communities/\d+/", "/communities/{}/", step) for step in phase[key]]

    # 1. The token expired while open: 4401, the session renewed by a call through the kit (one refresh), one new
    # socket, told the community in view again (a second `online`), and a catch-up.
    expired = seen["expired"]
    assert steps(expired) == ["socket", *renewal, "socket", *catch_up]
    assert expired["closes"] == [4401] and expired["ended"] == []
    assert expired["online"] == [[True, 1], [True, 1]]
    # 2. Dropped by the server (1001): one socket more after a jittered first backoff (0.5 to 1 s), no renewal; the
    # post written while it was down comes with the catch-up from `since`.
    dropped = seen["dropped"]
    assert steps(dropped) == ["socket", *catch_up]
    assert dropped["closes"] == [1001] and dropped["waited"] and dropped["caughtUp"]
    assert dropped["states"] == ["connecting", "retrying 1001", "connecting", "open"]
    assert dropped["problem"] == ["network_error", "网络不给力，请检查网络后重试。"]
    # 3. Back with a token the server refuses: the handshake fails (onError only here: no close code), the session
    # is renewed, one socket more.
    refused = seen["refused"]
    assert steps(refused) == ["socket", *renewal, "socket", *catch_up]
    assert refused["closes"] == [1001]
    assert refused["states"] == ["connecting", "retrying 1001", "connecting", "retrying 1006", "connecting", "open"]
    # 4. Replaced (4409) by the member's sockets on another device: nothing reopens until onShow, then one socket.
    replaced = seen["replaced"]
    assert replaced["before"] == [] and steps(replaced, "after") == ["socket", *catch_up]
    assert replaced["states"] == ["paused 4409", "connecting", "open"]
    # 5. The session ended (the refresh token spent, wx.login failing): onSessionEnded, the tokens dropped, and no
    # socket until a login and onShow.
    ended = seen["ended"]
    assert ended["trace"] == ["socket", "GET /v1/me", "POST /v1/auth/refresh"]
    assert ended["states"] == ["connecting", "retrying 1001", "connecting", "paused 4401"]
    assert ended["ended"] == ["refresh_token_reused"] and ended["tokens"] is None
    assert steps(ended, "back") == ["login", "POST /v1/auth/login", "socket", *catch_up]
    # 6. close() while waiting to reopen: nothing opens.
    assert seen["closed"] == {"trace": [], "states": ["connecting", "retrying 1001", "closed"]}
    # 7. A second live() of the client closes the first, then opens its one socket, which takes the view.
    second = seen["second"]
    assert second["trace"] == ["socket", "socket"] and second["first"] == ["connecting", "open", "closed"]
    assert second["second"][:2] == ["ready", "online"]
    # Never two of the app's sockets at once.
    assert seen["sockets"] == {"opened": 10, "most": 1}
