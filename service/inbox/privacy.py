"""The inbox's part of account erasure and export (core/privacy.py): the member's inbox goes; items in others'
inboxes about what the member did stay, their actor now the tombstone. The warm-up robot's introductions naming the
member go from the others' inboxes with its nudges (service/warmup/domain.py, core/inbox.py withdraw)."""

from __future__ import annotations

import asyncpg

from service.core.privacy import Erasure, Privacy

_DELETE = "DELETE FROM inbox_items WHERE user_id = $1"
_ITEMS = """
SELECT id::text AS id, kind, community_id::text AS community_id, subject_type, subject_id::text AS subject_id,
       created_at, read_at
FROM inbox_items i WHERE user_id = $1 ORDER BY i.id  -- the number (a bare `id` is the text column above)
"""


async def erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    await conn.execute(_DELETE, erasure.user_id)


PRIVACY = Privacy(erase=erase, exports={"notifications": _ITEMS}, erases=("inbox_items",))
