"""What live updates contribute to the app (listed in service/domains.py): the socket, its hub, its events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.live.events import on_published
from service.live.hub import Hub
from service.live.problems import PROBLEMS
from service.live.routes import CONTROLLERS


@asynccontextmanager
async def run_hub(app: Litestar) -> AsyncIterator[None]:
    """One hub (and one LISTEN connection) per API process; open sockets are closed (1001) at shutdown."""
    hub = Hub(app.state.pool, app.state.settings)
    await hub.start()
    app.state.live = hub
    # An erased account's sockets close at once (4401), in every process: its token stops working there.
    erased = app.state.get("erased_accounts")
    unwatch = erased.watch(hub.erased) if erased is not None else lambda: None
    # Draining before a stop (service/serving.py): sockets close with 1001 now, while the proxy still reaches
    # this instance, so clients reconnect to another one instead of losing theirs when granian stops.
    drain = asyncio.create_task(_drain_when(app.state.get("draining") or asyncio.Event(), hub))
    try:
        yield
    finally:
        drain.cancel()
        unwatch()
        await hub.stop()


async def _drain_when(draining: asyncio.Event, hub: Hub) -> None:
    await draining.wait()
    hub.drain()


DOMAIN = Domain(
    "live",
    problems=PROBLEMS,
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="live",
            description="Live updates over a WebSocket (wx.connectSocket): new posts, comments on posts I "
            "follow, inbox items with the unread count, members online; catch up with `since` (docs/live.md).",
        )
    ],
    on_published=[on_published],
    lifespans=[run_hub],
)
