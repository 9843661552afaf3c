"""docs/devtools.md walked as WeChat DevTools would: the client's dev mode takes login codes and payments from
the WeChat sandbox (DevTools' own wx.login and wx.requestPayment cannot serve a sandbox)."""

from __future__ import annotations

import asyncio

from tests.stack import full_stack
from tests.support import ROOT
from tests.test_client_wrapper import compile_client
from tests.test_wx_contract import node


def test_the_guide_names_the_steps_this_test_takes():
    guide = (ROOT / "docs" / "devtools.md").read_text()
    for step in ("HOST=0.0.0.0 make run", "不校验合法域名", "dev: {", "api.login()", "api.pay("):
        assert step in guide, step


async def test_devtools_mode_logs_in_and_pays_through_the_sandbox(database_url, pay_keys, tmp_path):
    compiled = await asyncio.to_thread(compile_client, tmp_path / "js")
    async with full_stack(database_url, pay_keys) as stack:
        seen = await node("devtools.cjs", compiled, stack.api_url, stack.sandbox.url)
    assert seen["login"] and seen["me"] and seen["stored"] and seen["priced"]
    assert seen["join"] == {"outcome": "payment", "order": "paid", "membership": "active"}
    assert seen["wxApis"] == []
