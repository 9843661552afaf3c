"""Account deletion (注销, docs/privacy.md): a request, a cooling-off period that a login cancels, then the erasure.

The erasure runs in the worker (`accounts.erase`), one account per transaction: every domain erases what it holds
(core/privacy.py), then the users row becomes a tombstone and every API process hears that its tokens are dead
(core/revocation.py). An owner must hand their communities over first; money still moving for the member (an
unpaid order, a refund, a transfer) postpones the erasure by an hour, so its outcome is booked before the openid goes.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

import asyncpg

from service.auth import queries as q
from service.auth.models import Deletion
from service.core.privacy import ERASED_NICKNAME, AccountExport, Erasure, ExportedProfile, erase_account, export_account
from service.core.ratelimit import hit
from service.core.revocation import NOTIFY, take_account
from service.errors import Problem
from service.settings import Settings

log = logging.getLogger("service.auth")

ERASE_KIND = "accounts.erase"
EXPORT_WINDOW = 86400


async def request(conn: asyncpg.Connection, settings: Settings, user_id: int) -> Deletion:
    """Start (or, repeated, show) the deletion; every session of the account ends, so coming back means a login,
    which cancels."""
    async with conn.transaction():
        await conn.execute(q.LOCK_SESSIONS, user_id)  # a refresh in flight finishes first: its new token is revoked
        owned = await conn.fetchrow(q.OWNED_COMMUNITY, user_id)
        if owned is not None:
            raise Problem("owner_must_transfer", f"you own the community {owned['name']!r} (id {owned['id']})")
        brand = await conn.fetchrow(q.OWNED_BRAND, user_id)
        if brand is not None:
            raise Problem("owner_must_transfer", f"you own the brand {brand['name']!r} (id {brand['id']})")
        row = await conn.fetchrow(q.REQUEST_DELETION, user_id, settings.account_deletion_days)
        await conn.execute(q.REVOKE_SESSIONS, user_id)
    log.info("account deletion requested", extra={"userId": user_id, "dueAt": row["due_at"].isoformat()})
    return Deletion(pending=True, requested_at=row["requested_at"], due_at=row["due_at"])


async def status(conn: asyncpg.Connection, user_id: int) -> Deletion:
    row = await conn.fetchrow(q.SELECT_DELETION, user_id)
    if row is None:
        return Deletion(pending=False)
    return Deletion(pending=True, requested_at=row["requested_at"], due_at=row["due_at"])


async def cancel_on_login(conn: asyncpg.Connection, user_id: int) -> bool:
    """In the login's transaction: a pending deletion ends."""
    return await conn.fetchval(q.CANCEL_DELETION, user_id) is not None


# How many due deletions one look finds; the first not held by another worker is taken.
DUE_LOOK = 20


async def _next_due(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The oldest due deletion no other worker holds, locked with its member (None when there is none). A member
    whose write holds their account (core/revocation.py) is passed over until the next run."""
    for due in await conn.fetch(q.DUE_DELETIONS, DUE_LOOK):
        # The account first, without waiting; held on for this transaction if another worker has the deletion.
        if await take_account(conn, due["user_id"]) and (row := await conn.fetchrow(q.LOCK_DUE, due["user_id"])):
            return row
    return None


async def erase_due(pool: asyncpg.Pool) -> int:
    """Erase every account whose cooling-off has ended; the number erased."""
    erased = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            # Citus: the tombstone updates a reference table after the domains' multi-shard deletes, which it
            # allows only when those ran over one connection per worker (plain PostgreSQL ignores the setting).
            await conn.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
            row = await _next_due(conn)
            if row is None:
                return erased
            user_id = row["user_id"]
            if await conn.fetchrow(q.OWNED_COMMUNITY, user_id) or await conn.fetchrow(q.OWNED_BRAND, user_id):
                # Became an owner after asking (a token still alive): the deletion is called off, not forced.
                await conn.execute(q.CANCEL_DELETION, user_id)
                log.warning("account deletion cancelled: the member owns a community", extra={"userId": user_id})
                continue
            if await conn.fetchval(q.MONEY_IN_FLIGHT, user_id):
                await conn.execute(q.POSTPONE_DELETION, user_id)
                continue
            # One pseudonym: the tombstone's openid and the money records' payer and payee references.
            erasure = Erasure(user_id, f"erased:{secrets.token_hex(16)}")
            await erase_account(conn, erasure)
            await conn.execute(q.TOMBSTONE, user_id, erasure.pseudonym, ERASED_NICKNAME)
            await conn.execute(q.DELETE_SESSIONS, user_id)
            await conn.execute(q.DELETE_KEPT_ANSWERS, user_id)
            await conn.execute(q.COMPLETE_DELETION, user_id)
            await conn.execute(NOTIFY, user_id)
        log.info("account erased", extra={"userId": user_id})
        erased += 1


async def export(conn: asyncpg.Connection, settings: Settings, user_id: int) -> AccountExport:
    """My data, read in one snapshot; a few exports a day (each reads every domain)."""
    await hit(conn, {f"export:{user_id}": settings.export_rate_per_day}, EXPORT_WINDOW, "too many exports today")
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await export_account(conn, user_id, datetime.now(UTC))


async def export_profile(conn: asyncpg.Connection, user_id: int, into: AccountExport) -> None:
    row = await conn.fetchrow(q.EXPORT_PROFILE, user_id)
    if row is not None:
        into.profile = ExportedProfile(**dict(row))
