"""The problem codes of the auth domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code("invalid_refresh_token", 401, "The refresh token is unknown, expired or revoked: log in again."),
    Code(
        "refresh_token_reused",
        401,
        "This refresh token was already exchanged, so it may have leaked: the session is revoked, log in again.",
    ),
    Code("owner_must_transfer", 409, "The owner cannot leave: transfer ownership first."),
)
