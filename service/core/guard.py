"""Who is calling: the identity comes only from the bearer token, the operator only from the operator key.

`enforce_declared_security` runs app-wide before every request: the security an operation declares in the
OpenAPI spec (`security=BEARER_SECURITY` or `OPERATOR_SECURITY` on a controller or handler) is exactly what it
enforces, and it is checked before the body and parameters are read, so a caller without credentials learns
nothing but 401/403. It is part of the app's `before_request` hook (service/app.py), not a Litestar guard:
Litestar hands a guard a copy of the route handler made for each request, whose resolved security is not kept.
"""

from __future__ import annotations

import hmac

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.handlers import BaseRouteHandler
from litestar.types import Scope

from service.core.deps import Db
from service.core.tokens import verify_access_token
from service.errors import Problem
from service.settings import Settings

BEARER_SECURITY = [{"bearer": []}]
OPERATOR_SECURITY = [{"operator": []}]


class Caller(msgspec.Struct, frozen=True):
    id: int
    # When the access token expires (epoch seconds); 0 when the user was not built from a token.
    token_expires_at: int = 0


# What handlers take as `user` or `caller` (provided app-wide, see the providers below).
CurrentUser = NamedDependency[Caller]


async def enforce_declared_security(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    # `handler` is the registered one: it resolves its security once and keeps it.
    if connection.scope["type"] != "http":
        return  # a WebSocket checks its token itself, to refuse the upgrade with a problem (service/live)
    if connection.scope.get("method") == "OPTIONS":
        return  # Litestar's automatic OPTIONS answers only `Allow`; a CORS preflight never carries credentials
    schemes = {name for requirement in handler.resolve_security() for name in requirement}
    if "bearer" in schemes:
        connection.state.caller = verified_caller(connection)
    elif "operator" in schemes:
        settings: Settings = connection.app.state.settings
        key = connection.headers.get("x-operator-key", "")
        if not settings.operator_api_key or not hmac.compare_digest(key.encode(), settings.operator_api_key.encode()):
            raise Problem("operator_only")


def caller_of(request: Request) -> Caller:
    """The caller of a request; verified by the guard already when the route declares bearer security (a route
    may read it here rather than take `caller` as a dependency)."""
    return request.state.get("caller") or verified_caller(request)


def verified_caller(request: ASGIConnection) -> Caller:
    return bearer_caller(request.scope, request.app.state)


def bearer_caller(scope: Scope, state: State) -> Caller:
    """The caller of an HTTP request's bearer token (also for the feed's lane, which runs before Litestar)."""
    # Read from the ASGI scope (names arrive lower-cased): `request.headers` would parse every header into a
    # multi-dict for this one, 2% of a cached feed read's CPU.
    raw = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
    scheme, _, token = raw.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem("unauthorized", "send Authorization: Bearer <access token>")
    settings: Settings = state.settings
    claims = verify_access_token(settings, token.strip())
    if claims.user_id in (state.get("erased_accounts") or ()):
        raise Problem("unauthorized", "this account was deleted")
    return Caller(id=claims.user_id, token_expires_at=claims.expires_at)


def _current_user(request: Request, db: Db) -> Caller:
    # Taking `db` only orders this after the connection: Litestar resolves independent dependencies of one
    # handler together in an anyio task group, which costs a quarter of a one-query route's throughput.
    return caller_of(request)


# Mounted app-wide. A handler that takes `user: CurrentUser` requires a token (the usual case, beside `db`);
# one that must not hold a connection (it waits on WeChat) takes `caller: CurrentUser` instead.
provide_current_user = Provide(_current_user, sync_to_thread=False)
provide_caller = Provide(caller_of, sync_to_thread=False)
