"""Brands' part of account erasure (core/privacy.py, docs/privacy.md): the member leaves every brand team at once.
A brand whose owner is erased stays, owned by the tombstone (like a community's money records, it is the brand's,
not the member's); its exports' audit rows and its series name no one."""

from __future__ import annotations

import asyncpg

from service.core.privacy import Erasure, Privacy

_LEAVE_TEAMS = "DELETE FROM brand_admins WHERE user_id = $1"


async def erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    await conn.execute(_LEAVE_TEAMS, erasure.user_id)


PRIVACY = Privacy(erase=erase, erases=("brand_admins",), keeps=("brands", "brand_exports", "community_series"))
