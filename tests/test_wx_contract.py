"""The API as a mini program reaches it: through a strict `wx` (tests/client/wx.cjs) that refuses what WeChat
refuses (no PATCH, no Referer, 10 requests in flight, upload answers as strings, payment fields as strings, at
most 5 sockets)."""

from __future__ import annotations

import asyncio
import json

from service.app import create_app
from tests.support import KIT, ROOT, serve

CLIENT = ROOT / "tests" / "client"


async def node(script: str, *args: str, timeout: float = 120, flags: tuple[str, ...] = ()) -> dict:
    process = await asyncio.create_subprocess_exec(
        "node", *flags, str(CLIENT / script), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=timeout)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


async def test_the_strict_wx_refuses_what_wechat_refuses(settings, sandbox):
    async with serve(create_app(settings)) as api:
        seen = await node("wx_checks.cjs", api, sandbox.url)
    assert seen["patch"] == "request:fail method is invalid"
    assert seen["referer"].startswith("request:fail invalid header")
    assert seen["inFlight"][:10] == [200] * 10
    assert seen["inFlight"][10] == "request:fail exceed max task count"
    assert (seen["json"], seen["text"]) == ("object", "string")
    assert seen["upload"]["type"] == "string" and seen["upload"]["status"] >= 400
    assert seen["paymentNumber"] == "requestPayment:fail parameter error: timeStamp"
    assert seen["paymentMd5"] == "requestPayment:fail signType must be RSA"
    assert seen["storage"] == [{"a": 1}, ""]


async def test_every_operation_of_the_spec_goes_through_wx_request(settings, sandbox):
    spec = json.loads((KIT / "openapi.json").read_text())
    count = sum(1 for item in spec["paths"].values() for method in item if method != "parameters")
    async with serve(create_app(settings)) as api:
        seen = await node("every_operation.cjs", str(KIT / "openapi.json"), api, sandbox.url, timeout=300)
    assert seen["operations"] == count > 100
    assert seen["refused"] == []
    # Signed in with made-up ids and empty bodies: refusals with codes, never a server error.
    assert {where: status for where, status in seen["answers"].items() if status >= 500} == {}
    assert {status for status in seen["answers"].values()} >= {200, 400, 404}


async def test_the_live_socket_through_wx_connect_socket(settings, sandbox):
    """wx.connectSocket with the token in its header: JSON texts both ways, at most 5 sockets, a bad token refused
    (node 20 has WebSocket behind a flag)."""
    async with serve(create_app(settings)) as api:
        seen = await node("live_socket.cjs", api, sandbox.url, flags=("--experimental-websocket",))
    assert seen["ready"] and seen["post"]
    assert (seen["online"], seen["since"], seen["types"]) == (1, 0, ["string"])
    assert seen["sixth"] == "connectSocket:fail exceed max task count"
    assert seen["badUrl"] == "connectSocket:fail invalid url"
    assert (seen["refused"], seen["closed"]) == ("connectSocket:fail", 1000)
