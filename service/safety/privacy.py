"""Blocking's part of account erasure and export (core/privacy.py, docs/privacy.md): the member's blocks go both
ways, the ones they made and the ones made against them; the export lists the ones they made."""

from __future__ import annotations

import asyncpg

from service.core.privacy import Erasure, Privacy

_ERASE = "DELETE FROM member_blocks WHERE blocker_id = $1 OR blocked_id = $1"

_BLOCKS = """
SELECT blocked_id::text AS blocked_id, created_at FROM member_blocks WHERE blocker_id = $1 ORDER BY created_at
"""


async def erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    await conn.execute(_ERASE, erasure.user_id)


PRIVACY = Privacy(erase=erase, exports={"blocks": _BLOCKS}, erases=("member_blocks",))
