"""Idempotency-Key for POSTs that move membership or money: a retry gets the first answer.

The key is reserved by inserting a row inside the request's own transaction. A concurrent retry with the
same key blocks on that row until the first transaction ends, then reads its stored answer; if the first
request failed, its transaction (and reservation) rolled back and the retry simply runs. Failures are
therefore never stored: they changed nothing, so running again is safe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Response
from litestar.params import HeaderParameter

from service.core.revocation import hold_account
from service.errors import Problem

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=100,
        pattern=r"^[\x21-\x7e]+$(?!\n)",
        description="A client-chosen unique key (e.g. a UUID). A retry with the same key returns the first "
        "answer instead of acting twice. Keys are kept for at least 24 hours.",
    ),
]

_CLAIM = """
INSERT INTO idempotent_requests (user_id, key, scope) VALUES ($1, $2, $3)
ON CONFLICT (user_id, key) DO NOTHING
RETURNING true
"""
_STORED = "SELECT scope, status_code, response FROM idempotent_requests WHERE user_id = $1 AND key = $2"
_ANSWERED = """
SELECT scope, status_code, response FROM idempotent_requests WHERE user_id = $1 AND key = $2 AND status_code IS NOT NULL
"""
_SAVE = "UPDATE idempotent_requests SET status_code = $3, response = $4 WHERE user_id = $1 AND key = $2"
_PURGE = "DELETE FROM idempotent_requests WHERE created_at < now() - $1::interval"
KEEP = timedelta(days=1)


def scope_of(operation: str, *parts: Any) -> str:
    """The operation plus a digest of everything that makes the request what it is."""
    digest = hashlib.sha256(msgspec.json.encode(parts)).hexdigest()[:32]
    return f"{operation}:{digest}"


async def run_once(
    conn: asyncpg.Connection,
    user_id: int,
    key: str | None,
    scope: str,
    action: Callable[[], Awaitable[tuple[int, Any]]],
) -> Response[bytes]:
    """Run ``action`` (which returns status and body) in one transaction, at most once per key, as the member
    ``user_id``: an account erased since the token was checked answers 401 (core/revocation.py).

    The answer is a JSON response; with a key, a retry returns the stored answer byte for byte.
    """
    async with conn.transaction():
        await hold_account(conn, user_id)
        if key is not None:
            if not await conn.fetchval(_CLAIM, user_id, key, scope):
                stored = await conn.fetchrow(_STORED, user_id, key)
                if stored["scope"] != scope:
                    raise Problem("idempotency_key_reused")
                return _json(stored["status_code"], stored["response"], replayed=True)
        status, result = await action()
        body = msgspec.json.encode(result)
        if key is not None:
            await conn.execute(_SAVE, user_id, key, status, body)
    return _json(status, body)


async def replay(conn: asyncpg.Connection, user_id: int, key: str | None, scope: str) -> Response[bytes] | None:
    """The answer a request with this key already got, as run_once would give it (None: no key, or none stored).
    For a request that asks WeChat (or checks anything that may have changed) before its transaction: a retry of
    one that succeeded answers what it created, even with WeChat down, rather than asking again. A read alone: an
    answer purged meanwhile (older than KEEP) or still being made is None, and the request runs through run_once."""
    if key is None or (stored := await conn.fetchrow(_ANSWERED, user_id, key)) is None:
        return None
    if stored["scope"] != scope:
        raise Problem("idempotency_key_reused")
    return _json(stored["status_code"], stored["response"], replayed=True)


def _json(status: int, body: bytes, *, replayed: bool = False) -> Response[bytes]:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(content=body, status_code=status, media_type="application/json", headers=headers)


async def purge_expired(conn: asyncpg.Connection | asyncpg.Pool, keep: timedelta = KEEP) -> None:
    """Forget answers older than ``keep`` (for the worker's periodic clean-up)."""
    await conn.execute(_PURGE, keep)
