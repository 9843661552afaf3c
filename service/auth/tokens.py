"""Short-lived signed access tokens (PyJWT, HS256). Refresh tokens live in the database (see logic)."""

from __future__ import annotations

import time

import jwt
import msgspec

from service.errors import Problem
from service.settings import Settings

ALGORITHM = "HS256"
ISSUER = "community-service"


class AccessClaims(msgspec.Struct, frozen=True):
    user_id: int
    expires_at: int


def issue_access_token(settings: Settings, user_id: int, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": str(user_id),
        "iat": issued,
        "exp": issued + settings.access_token_ttl,
        "iss": ISSUER,
        "typ": "access",
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def verify_access_token(settings: Settings, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],  # pinned: "none" and other algorithms are refused
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Problem("token_expired") from None
    except jwt.InvalidTokenError:
        raise Problem("unauthorized", "invalid access token") from None
    if claims.get("typ") != "access" or not str(claims["sub"]).isdigit():
        raise Problem("unauthorized", "invalid access token")
    return AccessClaims(user_id=int(claims["sub"]), expires_at=int(claims["exp"]))
