"""openapi/client, compiled by tsc, against the real API: bearer token, one shared refresh on 401, the end of a
session, problems as values, through the strict wx (tests/client/wx.cjs, tests/client/scenario.cjs)."""

from __future__ import annotations

import asyncio
import json
import subprocess

from service.app import create_app
from tests.support import KIT, ROOT, node_tool, serve


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


async def test_the_wrapper_against_the_api(settings, sandbox, tmp_path):
    compiled = await asyncio.to_thread(compile_client, tmp_path / "js")
    async with serve(create_app(settings)) as api:
        node = await asyncio.create_subprocess_exec(
            "node",
            str(ROOT / "tests" / "client" / "scenario.cjs"),
            compiled,
            api,
            sandbox.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(node.communicate(), timeout=60)
    assert node.returncode == 0, err.decode()
    seen = json.loads(out)
    assert seen["login"] and seen["me"]
    assert seen["renewed"] == {"ok": True, "nickname": "Carol", "refreshes": 1}
    assert seen["together"] == {"ok": [True, True, True], "refreshes": 2}
    assert seen["missing"] == {"ok": False, "status": 404, "code": "not_found"}
    assert seen["over"] == {
        "ok": False,
        "status": 401,
        "code": "unauthorized",
        "ended": ["refresh_token_reused"],
        "tokens": None,
    }
    assert seen["offline"] == {"ok": False, "status": 0, "code": "network_error"}
