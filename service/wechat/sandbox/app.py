"""The WeChat sandbox: a real HTTP server emulating WeChat for local development and tests.

``create_sandbox_app(config)`` builds it from ``CONTROLLERS`` (WeChat's endpoints and the /sandbox
control calls) over one in-memory ``SandboxState``, kept in ``app.state.sandbox`` and handed to the handlers as
the ``sandbox`` dependency; later parts of WeChat (Pay) are more controllers in that list.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import ControllerRouterHandler

from service.settings import load_settings
from service.wechat.sandbox.control import SandboxControl
from service.wechat.sandbox.media import MediaCheckApi, MediaControl
from service.wechat.sandbox.miniprogram import MiniProgramApi, MiniProgramCodes, wechat_error
from service.wechat.sandbox.state import SandboxConfig, SandboxState

log = logging.getLogger("service.wechat.sandbox")

CONTROLLERS: list[ControllerRouterHandler] = [
    MiniProgramApi,
    MiniProgramCodes,
    MediaCheckApi,
    SandboxControl,
    MediaControl,
]
CONTROL_PREFIX = "/sandbox/"


async def _inject_fault(request: Request) -> Response | None:
    """Answers for "WeChat is down" tests; the /sandbox control calls are never affected."""
    if request.url.path.startswith(CONTROL_PREFIX):
        return None
    state: SandboxState = request.app.state.sandbox
    fault = state.take_fault(request.url.path)
    if fault is None:
        return None
    if fault.mode == "slow":
        await asyncio.sleep(fault.delay)
        return None
    if fault.mode == "busy":
        return wechat_error(-1)
    return Response(b"<html><body>500 Internal Server Error</body></html>", status_code=500, media_type="text/html")


def _sandbox(state: State) -> SandboxState:
    # Read from the app's state on every call, not captured: the tests serve one built app many times, each
    # time with a state of its own (building the routes costs more than most tests).
    return state.sandbox


def create_sandbox_app(config: SandboxConfig, controllers: Sequence[ControllerRouterHandler] | None = None) -> Litestar:
    app = Litestar(
        route_handlers=list(CONTROLLERS if controllers is None else controllers),
        dependencies={"sandbox": Provide(_sandbox, sync_to_thread=False)},
        before_request=_inject_fault,
        openapi_config=None,
        logging_config=None,  # logging is configured once, by service.logs (Litestar's default replaced it)
        debug=False,
    )
    app.state.sandbox = SandboxState(config)
    return app


def app_from_env() -> Litestar:
    """Entry point for `python -m service sandbox` (one worker: the state lives in memory)."""
    from service.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    from service.wechat.sandbox.pay import PaySandbox, pay_sandbox_router

    log.info("wechat sandbox", extra={"appid": settings.sandbox_appid})
    pay = PaySandbox.for_development(settings)
    app = create_sandbox_app(SandboxConfig.from_settings(settings), [*CONTROLLERS, pay_sandbox_router(pay)])
    app.on_shutdown.append(pay.aclose)
    return app
