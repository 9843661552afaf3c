"""The identity of the caller, taken only from the bearer token. Every member route depends on it."""

from __future__ import annotations

import asyncpg
import msgspec
from litestar import Request
from litestar.di import Provide

from service.auth.tokens import verify_access_token
from service.errors import Problem
from service.settings import Settings

BEARER_SECURITY = [{"bearer": []}]


class CurrentUser(msgspec.Struct, frozen=True):
    id: int
    # When the access token expires (epoch seconds); 0 when the user was not built from a token.
    token_expires_at: int = 0


def _caller(request: Request) -> CurrentUser:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem("unauthorized", "send Authorization: Bearer <access token>")
    settings: Settings = request.app.state.settings
    claims = verify_access_token(settings, token.strip())
    return CurrentUser(id=claims.user_id, token_expires_at=claims.expires_at)


def _current_user(request: Request, db: asyncpg.Connection) -> CurrentUser:
    # Taking `db` only orders this after the connection: Litestar resolves independent dependencies of one
    # handler together in an anyio task group, which costs a quarter of a one-query route's throughput.
    return _caller(request)


# Mounted app-wide. A handler that takes `user: CurrentUser` requires a token (the usual case, beside `db`);
# one that must not hold a connection (it waits on WeChat) takes `caller: CurrentUser` instead.
provide_current_user = Provide(_current_user, sync_to_thread=False)
provide_caller = Provide(_caller, sync_to_thread=False)
