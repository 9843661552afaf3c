"""Identifiers: bigint in PostgreSQL, decimal strings in JSON (JavaScript cannot hold 64-bit integers).

Path parameters are bounded to 2^53 so no client and no database ever sees an overflow; the pattern allows 15
digits (below 2^53) so every id the spec describes is one the server accepts.
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter

from service.errors import FieldError, Problem

MAX_ID = 2**53 - 1

# A string on the wire like every id in a body (the mini program passes ids from answers as they are); the handler
# gets an int, and anything but digits answers 400 `validation_failed`, not 404.
ID_PATTERN = r"^[1-9][0-9]{0,14}$(?!\n)"
PathId = Annotated[
    int,
    PathParameter(
        ge=1,
        le=MAX_ID,
        description="Resource id (decimal string of an integer)",
        schema_extra={"type": "string", "pattern": ID_PATTERN},
    ),
]


# `me` or a user id, in a path: the caller, or anyone by id (a member's profile, their settings, their posts); an id
# past MAX_ID answers 400 `validation_failed` naming the field (user_ref).
USER_REF_PATTERN = r"^(me|[1-9][0-9]{0,15})$(?!\n)"


def user_ref(ref: str, me: int, field: str = "user_id", source: str = "path") -> int:
    """The user a `me`-or-id reference names: `me` the caller, else the id (400 `validation_failed` past MAX_ID)."""
    if ref == "me":
        return me
    value = int(ref)
    if value > MAX_ID:
        error = FieldError(field=field, message=f"must be `me` or an id up to {MAX_ID}", source=source)
        raise Problem("validation_failed", "invalid user id", errors=[error])
    return value
