"""Opaque list cursors: the sort key of the last item, as url-safe base64 of a JSON array.

Clients treat a cursor as an opaque string; a tampered or foreign cursor answers 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar.params import QueryParameter

from service.errors import FieldError, Problem

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (1-100)")]
Cursor = Annotated[
    str | None,
    QueryParameter(max_length=200, description="`nextCursor` of the previous page; omit for the first page"),
]
# Every page's `nextCursor`: what encode_cursor gives for the last item's key ("2025-03-01T08:30:00Z", 42).
NextCursor = Annotated[
    str | None,
    msgspec.Meta(
        examples=["WyIyMDI1LTAzLTAxVDA4OjMwOjAwKzAwOjAwIiw0Ml0"],
        description="Pass as `cursor` for the next page; null on the last page",
    ),
]

# Catching up after the app was in the background (docs/live.md): the newest id the client has.
Since = Annotated[
    str | None,
    QueryParameter(
        pattern=r"^[1-9][0-9]{0,15}$(?!\n)",
        description="Catch up: only items newer than this id (the newest I have), oldest first, up to `limit` "
        "(a full page: ask again with its last id). Not with `cursor`",
    ),
]


def since_id(since: str | None, cursor: str | None) -> int | None:
    """The id of a `since` parameter; `since` and `cursor` page in opposite directions, so not both."""
    if since is not None and cursor is not None:
        message = "send either cursor (older pages) or since (newer items)"
        raise Problem("validation_failed", message, errors=[FieldError(field="since", message=message, source="query")])
    return None if since is None else int(since)


def encode_cursor(*key: Any) -> str:
    raw = msgspec.json.encode([k.isoformat() if isinstance(k, datetime) else k for k in key])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, *types: type) -> tuple | None:
    """The key a cursor holds, each part converted to the given type; None for the first page."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = msgspec.json.decode(raw)
        if not isinstance(parts, list) or len(parts) != len(types):
            raise ValueError("wrong shape")
        key = tuple(msgspec.convert(part, kind, strict=False) for part, kind in zip(parts, types, strict=True))
        # A forged integer past bigint, or a time that leaves the calendar in UTC (year 1 at +14:00), would
        # reach PostgreSQL and fail there: a 500, not the client's 400.
        for part in key:
            if isinstance(part, int) and not BIGINT_MIN <= part <= BIGINT_MAX:
                raise ValueError("out of range")
            if isinstance(part, float) and not math.isfinite(part):
                raise ValueError("not a number a list sorts by")
            if isinstance(part, str) and "\x00" in part:
                raise ValueError("PostgreSQL text holds no U+0000")
            if isinstance(part, datetime):
                part.astimezone(UTC)  # OverflowError when it leaves the calendar
        return key
    except (ValueError, OverflowError, RecursionError, binascii.Error, msgspec.DecodeError, msgspec.ValidationError):
        raise Problem(
            "validation_failed",
            "invalid cursor",
            errors=[FieldError(field="cursor", message="not a cursor this list gave out", source="query")],
        ) from None


async def fetch_page(
    conn: asyncpg.Connection,
    query: str,
    *args: Any,
    limit: int,
    cursor: str | None,
    item: Callable[[asyncpg.Record], Any],
    key: tuple[str, ...] = ("sort_id",),
    types: tuple[type, ...] = (int,),
) -> tuple[list, str | None]:
    """One keyset page: up to ``limit`` items of ``query`` after ``cursor``, and the next page's cursor (None on
    the last page). The query's last parameters are the cursor's parts (NULL on the first page, one per
    ``types``) and how many rows to fetch: one more than the page, to know whether another follows. The
    cursor holds the row's ``key`` columns."""
    after = decode_cursor(cursor, *types) or (None,) * len(types)
    rows = await conn.fetch(query, *args, *after, limit + 1)
    next_cursor = encode_cursor(*(rows[limit - 1][name] for name in key)) if len(rows) > limit else None
    return [item(row) for row in rows[:limit]], next_cursor
