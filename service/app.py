"""The application: create_app(settings) assembles routes, lifespan, errors and the OpenAPI contract."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg
import httpx
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme, Server, Tag
from litestar.routes import HTTPRoute
from litestar.types import ControllerRouterHandler

from service import __version__
from service.auth.guard import enforce_declared_security, provide_caller, provide_current_user
from service.db import migrate as migrations
from service.db.pool import create_pool
from service.errors import handle_exception
from service.feed.cache import PageCache
from service.health import HealthController
from service.logs import configure_logging
from service.middleware import refuse_nul, request_id_middleware
from service.openapi import CompletedJson, CompletedScalar, CompletedYaml, SelfHostedSwagger, document_json
from service.openapi_schema import StrictStructSchemaPlugin, document_body_errors
from service.settings import Settings, load_settings
from service.wechat.client import WeChatClient
from service.wechat.pay import WeChatPay
from service.wechat.sealing import SessionKeySealer

TAGS = [
    Tag(name="health", description="Liveness and readiness probes."),
    Tag(name="auth", description="WeChat login (wx.login code), token refresh, logout, phone binding."),
    Tag(name="me", description="The signed-in member's own profile."),
    Tag(
        name="checkout",
        description="Orders paid with WeChat Pay (JSAPI), refunds, merchant transfers and WeChat Pay notifications.",
    ),
    Tag(
        name="communities",
        description="Communities and belonging to one: discover, join (free, approval, paid, invite links), "
        "roles, mute, leave, the welcome ceremony and self-introductions, the audit log.",
    ),
    Tag(
        name="collections",
        description="Group collections: participants pay a share each; settled to the initiator after the deadline.",
    ),
    Tag(name="interactions", description="Client events (views, share opens) and presence heartbeats."),
    Tag(name="metrics", description="Activity metrics and member contribution ranks (docs/metrics.md)."),
    Tag(name="rewards", description="Two-tier reward pools (platform operator) and my rewards."),
    Tag(
        name="feed",
        description="Community feeds (latest, hot, essence, my feed), posts, comments with replies, likes, shares; "
        "texts pass WeChat's content check; newcomer limits (docs/feed.md).",
    ),
    Tag(
        name="robots",
        description="Keyword auto-reply rules of a community and WeChat's customer-service message push.",
    ),
    Tag(
        name="polls",
        description="Product-naming polls: proposals (deduplicated, content-checked), votes with per-member limits, "
        "phases advanced at deadlines, final results with a documented tie-break, the audit record (docs/polls.md).",
    ),
    Tag(
        name="trials",
        description="Free-trial qualifications granted when a poll closes (winner, top proposers, a verifiable "
        "draw among voters): claim, ship, feedback and sharing it to the feed.",
    ),
    Tag(
        name="activities",
        description="Recurring theme activities and check-ins (打卡): occurrences in the community's time zone, "
        "streaks and rankings; the community's time zone.",
    ),
    Tag(
        name="meetups",
        description="Online and offline events: sign-ups with capacity and waitlist, fees through checkout, "
        "venue check-in by short code or signed QR payload, reminders.",
    ),
    Tag(name="warmup", description="The warm-up robot: topics it posts when the community goes quiet."),
    Tag(
        name="apps",
        description="Community apps the owner switches on and off; priced apps are paid through checkout.",
    ),
]


def domain_routes() -> list:
    """The domain controllers, mounted under /v1."""
    from service.activities.routes import CONTROLLERS as ACTIVITY_CONTROLLERS
    from service.apps.routes import CONTROLLERS as APP_CONTROLLERS
    from service.auth.routes import AuthController, MeController
    from service.checkout.routes import OrdersController, PayNotificationsController, TransfersController
    from service.collections.routes import CONTROLLERS as COLLECTION_CONTROLLERS
    from service.communities.routes import CONTROLLERS as COMMUNITY_CONTROLLERS
    from service.feed.routes import CONTROLLERS as FEED_CONTROLLERS
    from service.interactions.routes import CONTROLLERS as INTERACTION_CONTROLLERS
    from service.meetups.routes import CONTROLLERS as MEETUP_CONTROLLERS
    from service.polls.routes import CONTROLLERS as POLL_CONTROLLERS
    from service.robots.routes import CONTROLLERS as ROBOT_CONTROLLERS
    from service.robots.warmup.routes import CONTROLLERS as WARMUP_CONTROLLERS

    return [
        AuthController,
        MeController,
        OrdersController,
        TransfersController,
        PayNotificationsController,
        *COMMUNITY_CONTROLLERS,
        *COLLECTION_CONTROLLERS,
        *INTERACTION_CONTROLLERS,
        *FEED_CONTROLLERS,
        *ROBOT_CONTROLLERS,
        *POLL_CONTROLLERS,
        *ACTIVITY_CONTROLLERS,
        *MEETUP_CONTROLLERS,
        *WARMUP_CONTROLLERS,
        *APP_CONTROLLERS,
    ]


def _lifespan(settings: Settings, http_client: httpx.AsyncClient | None):
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await create_pool(settings)
        try:
            async with pool.acquire() as conn:
                if settings.migrate_on_start:
                    await migrations.migrate(conn)
                elif todo := await migrations.pending(conn):
                    names = ", ".join(f"{m.version:04d}_{m.name}" for m in todo)
                    raise RuntimeError(f"migrations pending ({names}): run `python -m service migrate`")
            client = http_client or httpx.AsyncClient(
                timeout=httpx.Timeout(settings.wechat_timeout, connect=2.0),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            )
            app.state.pool = pool
            app.state.http = client
            app.state.pay = WeChatPay.from_settings(settings, client)
            if settings.environment == "production":
                _ = app.state.pay.config  # load the merchant keys now: a bad key must stop start-up
            app.state.wechat = WeChatClient(client, pool, settings)
            try:
                yield
            finally:
                if http_client is None:
                    await client.aclose()
        finally:
            await pool.close()

    return lifespan


def _provide_pay(state: State) -> WeChatPay:
    return state.pay


def _provide_wechat(state: State) -> WeChatClient:
    return state.wechat


async def _provide_db(state: State) -> AsyncIterator[asyncpg.Connection]:
    async with state.pool.acquire() as conn:
        yield conn


def create_app(
    settings: Settings,
    http_client: httpx.AsyncClient | None = None,
    *,
    extra_routes: Sequence[ControllerRouterHandler] = (),
) -> Litestar:
    """Build the API. Dependencies come in; nothing is created at import time.

    ``extra_routes`` lets benchmarks and tests mount routes that are not part of the contract.
    """
    if not settings.database_url:
        raise ValueError("settings.database_url is required to build the app")
    app = Litestar(
        route_handlers=[HealthController, Router(path="/v1", route_handlers=domain_routes()), *extra_routes],
        lifespan=[_lifespan(settings, http_client)],
        dependencies={
            "db": Provide(_provide_db),
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "user": provide_current_user,
            "caller": provide_caller,
            "pay": Provide(_provide_pay, sync_to_thread=False),
            "wechat": Provide(_provide_wechat, sync_to_thread=False),
        },
        guards=[enforce_declared_security],
        before_request=refuse_nul,
        exception_handlers={Exception: handle_exception},
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(settings),
        plugins=[StrictStructSchemaPlugin()],
        logging_config=None,  # logging is configured once, by service.logs
        debug=False,
    )
    app.state.settings = settings
    app.state.feed_cache = PageCache(settings.feed_cache_seconds) if settings.feed_cache_seconds else None
    document_body_errors(app)
    # What OPTIONS answers in `Allow` (service.middleware): every method of the path.
    app.state.allowed_methods = {
        route.path_format: ", ".join(sorted(route.methods)).encode()
        for route in app.routes
        if isinstance(route, HTTPRoute)
    }
    app.state.session_keys = SessionKeySealer(settings)
    # Outermost wrapper, so even unrouted requests (404, 405) carry a request id.
    app.asgi_handler = request_id_middleware(app.asgi_handler, log_access=settings.access_log)
    return app


def openapi_config(settings: Settings) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Community backend API",
        version=__version__,
        description=(
            "Backend of a WeChat Mini Program for community marketing. JSON fields are camelCase, IDs are "
            "strings, times RFC 3339 UTC, money integer fen (CNY). Errors are RFC 9457 problem+json with a "
            "stable `code`."
        ),
        servers=[Server(url=settings.public_base_url, description="this instance")],
        tags=TAGS,
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="Access token from POST /v1/auth/login",
                ),
                "operator": SecurityScheme(
                    type="apiKey",
                    name="X-Operator-Key",
                    security_scheme_in="header",
                    description="The platform operator's key (OPERATOR_API_KEY)",
                ),
            }
        ),
        path="/schema",
        render_plugins=[
            SelfHostedSwagger("/schema"),
            CompletedScalar(path="/scalar"),
            CompletedJson(),
            CompletedYaml(),
        ],
        use_handler_docstrings=True,
    )


def app_from_env() -> Litestar:
    """Entry point for the ASGI server's worker processes: settings from the environment."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def openapi_document(app: Litestar) -> str:
    """The OpenAPI document as stable, diffable JSON (sorted keys, two-space indent)."""
    return document_json(app)
