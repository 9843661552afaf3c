"""The identity of the caller, taken only from the bearer token. Every member route depends on it."""

from __future__ import annotations

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


async def _current_user(request: Request, settings: Settings) -> CurrentUser:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem("unauthorized", "send Authorization: Bearer <access token>")
    claims = verify_access_token(settings, token.strip())
    return CurrentUser(id=claims.user_id, token_expires_at=claims.expires_at)


# Mounted app-wide as the `user` dependency: a handler that takes `user: CurrentUser` requires a token.
provide_current_user = Provide(_current_user)
