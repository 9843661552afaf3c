"""The whole stack over loopback HTTP: the API, and the WeChat sandbox with the Pay sandbox mounted on it (one
server, as `python -m service sandbox` runs them).

`full_stack` runs in the caller's event loop (async tests); `LiveStack` runs it in a thread of its own, for
synchronous clients such as schemathesis (requests), which would block a loop they shared with the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from service.settings import Settings
from service.wechat.sandbox import create_sandbox_app
from service.wechat.sandbox.app import CONTROLLERS
from service.wechat.sandbox.keys import SandboxKeys
from service.wechat.sandbox.pay import PaySandbox, pay_sandbox_router
from tests.support import bound_socket, http_client, make_settings, reused_app, serve
from tests.wechat_support import Sandbox, sandbox_config

OPERATOR_KEY = "operator-key-for-tests-0123456789abcdef"
T = TypeVar("T")


@dataclass
class Stack:
    settings: Settings
    api_url: str
    sandbox: Sandbox
    pay_sandbox: PaySandbox


@contextlib.asynccontextmanager
async def full_stack(database_url: str, pay_keys: SandboxKeys, **overrides: object) -> AsyncIterator[Stack]:
    sock = bound_socket()
    api_url = "http://{}:{}".format(*sock.getsockname())
    async with http_client(timeout=10) as notify_http:
        pay_sandbox = PaySandbox.from_keys(pay_keys, http=notify_http)
        config = sandbox_config(message_push_url=f"{api_url}/v1/wechat/messages", media_check_delay=0.05)
        sandbox_app = create_sandbox_app(config, [*CONTROLLERS, pay_sandbox_router(pay_sandbox)])
        async with serve(sandbox_app) as sandbox_url, http_client(base_url=sandbox_url, timeout=10) as control:
            values: dict[str, object] = {
                "wechat_api_base": sandbox_url,
                "public_base_url": api_url,
                "wechat_pay_notify_base_url": api_url,
                "operator_api_key": OPERATOR_KEY,
                **pay_keys.settings_overrides(sandbox_url),
                **overrides,
            }
            settings = make_settings(database_url, **values)
            async with reused_app(settings) as app, serve(app, sock):
                sandbox = Sandbox(url=sandbox_url, state=sandbox_app.state.sandbox, http=control)
                yield Stack(settings, api_url, sandbox, pay_sandbox)


class LiveStack:
    """`full_stack` served from a background thread with its own event loop, for synchronous test code."""

    def __init__(self, database_url: str, pay_keys: SandboxKeys, **overrides: object) -> None:
        self._args = (database_url, pay_keys)
        self._overrides = overrides
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stack: Stack | None = None

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the stack's event loop (seeding, database access) and wait for its result."""
        assert self._loop is not None, "the stack is not running"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=300)

    @contextlib.contextmanager
    def running(self) -> Iterator[Stack]:
        loop = self._loop = asyncio.new_event_loop()
        stop = asyncio.Event()

        async def main() -> None:
            try:
                async with full_stack(*self._args, **self._overrides) as stack:
                    self.stack = stack
                    self._ready.set()
                    await stop.wait()
            except BaseException as exc:  # surfaced in the test thread
                self._error = exc
                self._ready.set()

        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        thread.start()
        self._ready.wait(60)
        if self._error is not None or self.stack is None:
            raise RuntimeError("the stack did not start") from self._error
        try:
            yield self.stack
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(30)
            loop.close()
            self._loop = None
