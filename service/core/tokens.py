"""Short-lived signed access tokens (PyJWT, HS256). Refresh tokens live in the database (see logic)."""

from __future__ import annotations

import functools
import re
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
    claims = _verified_claims(settings.secret_key, token)
    if claims.expires_at <= time.time():
        raise Problem("token_expired")
    return claims


# A member sends the same token with every request for its whole life: check its signature once per process.
# Only tokens that verified are cached (an exception is never cached); expiry is checked on every use.
@functools.lru_cache(maxsize=8192)
def _verified_claims(secret_key: str, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[ALGORITHM],  # pinned: "none" and other algorithms are refused
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "iss"], "verify_exp": False},
        )
    except jwt.InvalidTokenError:
        raise Problem("unauthorized", "invalid access token") from None
    user_id = _user_id(claims["sub"])
    if claims.get("typ") != "access" or user_id is None or not isinstance(claims["exp"], int):
        raise Problem("unauthorized", "invalid access token")
    return AccessClaims(user_id=user_id, expires_at=claims["exp"])


_SUBJECT = re.compile(r"[1-9][0-9]{0,17}")  # ASCII digits only (isdigit() took "١٢٣"), within bigint


def _user_id(subject: object) -> int | None:
    return int(subject) if isinstance(subject, str) and _SUBJECT.fullmatch(subject) else None
