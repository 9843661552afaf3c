"""Moderation's part of account erasure and export (core/privacy.py): the member's reports stay (they count toward
a case and its audit) without the note the member wrote; cases and decisions stay, naming the tombstone's id."""

from __future__ import annotations

import asyncpg

from service.core.privacy import Erasure, Privacy

_UNNOTE = "UPDATE reports SET note = '' WHERE reporter_id = $1 AND note <> ''"
_REPORTS = """
SELECT r.id::text AS id, r.target_kind, r.target_id::text AS target_id, r.reason, r.note, c.status AS outcome,
       r.created_at
FROM reports r JOIN moderation_cases c ON c.id = r.case_id AND c.community_id = r.community_id
WHERE r.reporter_id = $1 ORDER BY r.id
"""


async def erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    await conn.execute(_UNNOTE, erasure.user_id)


PRIVACY = Privacy(
    erase=erase, exports={"reports": _REPORTS}, erases=("reports",), keeps=("moderation_cases", "moderation_actions")
)
