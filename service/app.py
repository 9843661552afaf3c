"""The application: create_app(settings) assembles routes, lifespan, errors and the OpenAPI contract."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg
import httpx
from litestar import Litestar, Request, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme, Server, Tag
from litestar.routes import HTTPRoute
from litestar.types import ControllerRouterHandler

from service import __version__
from service.core.domain import Domain, check_declared, install, job_registry, problem_table
from service.core.guard import enforce_declared_security, provide_caller, provide_current_user
from service.core.revocation import ErasedAccounts
from service.core.storage import Storage
from service.db import migrate as migrations
from service.db.pool import create_pool
from service.db.replica import ReadRouter
from service.domains import DOMAINS
from service.errors import handle_exception
from service.feed.cache import PageCache
from service.health import HealthController
from service.logs import configure_logging
from service.middleware import refuse_nul, refuse_repeated_query, request_id_middleware
from service.openapi import document_json
from service.openapi_pages import CompletedJson, CompletedYaml, SelfHostedSwagger
from service.openapi_schema import StrictStructSchemaPlugin, document_body_errors
from service.request import StrictJsonRequest
from service.serving import InFlight, on_drain_signal
from service.settings import Settings, load_settings
from service.wechat.client import WeChatClient
from service.wechat.pay import WeChatPay
from service.wechat.sealing import SessionKeySealer
from service.wechat.tls import tls_context

HEALTH_TAG = Tag(name="health", description="Liveness and readiness probes.")


def _lifespan(http_client: httpx.AsyncClient | None, domains: Sequence[Domain]):
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        """Every start-up applies `app.state.settings` afresh: what a run holds (pool, clients, caches) is
        made here, so a built app can be started again over other settings (the tests build one per worker)."""
        settings: Settings = app.state.settings
        install(domains)
        pool = await create_pool(settings)
        try:
            async with pool.acquire() as conn:
                if settings.migrate_on_start:
                    await migrations.migrate(conn)
                elif todo := await migrations.pending(conn):
                    names = ", ".join(f"{m.version:04d}_{m.name}" for m in todo)
                    raise RuntimeError(f"migrations pending ({names}): run `python -m service migrate`")
                await check_declared(conn, domains, job_registry(domains))
            client = http_client or httpx.AsyncClient(
                verify=tls_context(),
                timeout=httpx.Timeout(settings.wechat_timeout, connect=2.0),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            )
            app.state.pool = pool
            app.state.reads = reads = ReadRouter(pool, settings)  # the replica's pool and watcher: started below
            app.state.http = client
            app.state.pay = WeChatPay.from_settings(settings, client)
            if settings.environment == "production":
                _ = app.state.pay.config  # load the merchant keys now: a bad key must stop start-up
            app.state.wechat = WeChatClient(client, pool, settings)
            app.state.storage = Storage(settings)
            app.state.session_keys = SessionKeySealer(settings)
            app.state.feed_cache = PageCache(settings.feed_cache_seconds) if settings.feed_cache_seconds else None
            app.state.erased_accounts = erased = ErasedAccounts(settings)
            # Set when the instance starts draining before a stop (service/serving.py): /readyz answers 503.
            app.state.draining = draining = asyncio.Event()
            unwatch = on_drain_signal(draining.set)
            await erased.start()
            try:
                await reads.start()
                # What start-up built (routes, schemas, settings, clients) lives as long as the process: out of the
                # cyclic collector's sight, so a collection scans only what requests allocate (it took a tenth of
                # the CPU of event ingestion, traversing the app's objects again and again).
                gc.freeze()
                yield
            finally:
                gc.unfreeze()  # an app started again (the tests) leaves nothing frozen behind
                unwatch()
                await reads.close()
                await erased.close()
                if http_client is None:
                    await client.aclose()
        finally:
            await pool.close()

    return lifespan


# What a stop waits for requests in flight (below Kubernetes' 30 s grace less the 5 s drain: infra/k8s).
IN_FLIGHT_GRACE_SECONDS = 20.0


@asynccontextmanager
async def _finish_requests(app: Litestar) -> AsyncIterator[None]:
    """The last lifespan, so the first to end: the requests in flight finish before anything closes."""
    yield
    await app.state.in_flight.finished(IN_FLIGHT_GRACE_SECONDS)


async def _before_request(request: Request) -> None:
    """Every HTTP request, before its parameters and body are read: the declared security, then no NUL and no
    query parameter given twice."""
    await enforce_declared_security(request, request.route_handler)
    await refuse_nul(request)
    refuse_repeated_query(request)


def _provide_settings(state: State) -> Settings:
    return state.settings


def _provide_pay(state: State) -> WeChatPay:
    return state.pay


def _provide_wechat(state: State) -> WeChatClient:
    return state.wechat


def _provide_storage(state: State) -> Storage:
    return state.storage


def _provide_reads(state: State) -> ReadRouter:
    return state.reads


async def _provide_db(state: State) -> AsyncIterator[asyncpg.Connection]:
    async with state.pool.acquire() as conn:
        yield conn


class _VersionRouter(Router):
    """The /v1 router, built afresh by each create_app and registered into that app alone: litestar's
    defensive deep copy of a registered router (half of the app's build time) protects nothing here."""

    def __deepcopy__(self, memo: dict[int, object]) -> _VersionRouter:
        return self


def create_app(
    settings: Settings,
    http_client: httpx.AsyncClient | None = None,
    *,
    domains: Sequence[Domain] = DOMAINS,
    extra_routes: Sequence[ControllerRouterHandler] = (),
) -> Litestar:
    """Build the API from the domain list. Dependencies come in; nothing is created at import time.

    ``extra_routes`` lets benchmarks and tests mount routes that are not part of the contract.
    """
    if not settings.database_url:
        raise ValueError("settings.database_url is required to build the app")
    install(domains)
    controllers = [controller for domain in domains for controller in domain.controllers]
    app = Litestar(
        route_handlers=[HealthController, _VersionRouter(path="/v1", route_handlers=controllers), *extra_routes],
        lifespan=[
            _lifespan(http_client, domains),
            *(hook for domain in domains for hook in domain.lifespans),
            _finish_requests,
        ],
        dependencies={
            "db": Provide(_provide_db),
            "settings": Provide(_provide_settings, sync_to_thread=False),
            "user": provide_current_user,
            "caller": provide_caller,
            "pay": Provide(_provide_pay, sync_to_thread=False),
            "wechat": Provide(_provide_wechat, sync_to_thread=False),
            "storage": Provide(_provide_storage, sync_to_thread=False),
            "reads": Provide(_provide_reads, sync_to_thread=False),
        },
        before_request=_before_request,
        request_class=StrictJsonRequest,
        exception_handlers={Exception: handle_exception},
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(settings, [HEALTH_TAG, *(tag for domain in domains for tag in domain.tags)]),
        plugins=[StrictStructSchemaPlugin()],
        logging_config=None,  # logging is configured once, by service.logs
        debug=False,
    )
    app.state.settings = settings
    app.state.problems = problem_table(domains)
    document_body_errors(app)
    # What OPTIONS answers in `Allow` (service.middleware): every method of the path.
    app.state.allowed_methods = {
        route.path_format: ", ".join(sorted(route.methods)).encode()
        for route in app.routes
        if isinstance(route, HTTPRoute)
    }
    # Litestar serves a response cached by a handler (`cache=`) before the before_request hook that checks the
    # declared security (_before_request): no handler may cache so.
    if cached := [h.handler_name for r in app.routes if isinstance(r, HTTPRoute) for h in r.route_handlers if h.cache]:
        raise ValueError(f"handlers must not use Litestar's response cache (security runs after it): {cached}")
    # The domains' lanes answer their hot reads before Litestar routes them; the request id middleware is the
    # outermost wrapper, so even unrouted requests (404, 405) and the lanes' answers carry a request id.
    app.state.in_flight = in_flight = InFlight()
    handler = app.asgi_handler
    for lane in (lane for domain in domains for lane in domain.lanes):
        handler = lane(handler, app)
    app.asgi_handler = request_id_middleware(handler, log_access=settings.access_log, in_flight=in_flight)
    return app


def openapi_config(settings: Settings, tags: list[Tag]) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Community backend API",
        version=__version__,
        description=(
            "Backend of a WeChat Mini Program for community marketing. JSON fields are camelCase, IDs are "
            "strings, times RFC 3339 UTC, money integer fen (CNY). Errors are RFC 9457 problem+json with a "
            "stable `code`."
        ),
        servers=[Server(url=settings.public_base_url, description="this instance")],
        tags=tags,
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
