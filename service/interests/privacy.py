"""The interests' part of account erasure and export (core/privacy.py): the member's tags and settings go, and are
in the export. A post's tags stay with the post (they name no one); the community's top tags are sums over members."""

from __future__ import annotations

import asyncpg

from service.core.privacy import AccountExport, Erasure, ExportedInterestSettings, Privacy

_INTERESTS = """
SELECT community_id::text AS community_id, tag, weight, weighed_at FROM member_interests mi
WHERE user_id = $1 ORDER BY mi.community_id, weight DESC, tag  -- the number (a bare `community_id` is the text)
"""
_SETTINGS = "SELECT introductions, updated_at FROM interest_preferences WHERE user_id = $1"


async def erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    await conn.execute("DELETE FROM member_interests WHERE user_id = $1", erasure.user_id)
    await conn.execute("DELETE FROM interest_preferences WHERE user_id = $1", erasure.user_id)


async def export(conn: asyncpg.Connection, user_id: int, into: AccountExport) -> None:
    """The setting is one object, not a list section: a statement cannot fill it."""
    row = await conn.fetchrow(_SETTINGS, user_id)
    if row is not None:
        into.interest_settings = ExportedInterestSettings(
            introductions=row["introductions"], updated_at=row["updated_at"]
        )


PRIVACY = Privacy(
    erase=erase, export=export, exports={"interests": _INTERESTS}, erases=("member_interests", "interest_preferences")
)
