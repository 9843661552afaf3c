"""The media domain's part of account erasure and export (core/privacy.py, docs/privacy.md): every upload of the
member goes, shown anywhere or not, and the `media.files` job deletes the stored files no upload refers to any
more (another member's upload of the same photo keeps it)."""

from __future__ import annotations

import asyncpg

from service.core.media import FILES_KIND
from service.core.privacy import Erasure, Privacy
from service.jobs import enqueue

_DELETE_UPLOADS = "DELETE FROM media WHERE owner_id = $1"
# Ordered by the number: a bare `id` would be the text column ("10" before "9").
_UPLOADS = "SELECT id::text AS id, purpose, created_at FROM media m WHERE owner_id = $1 ORDER BY m.id"


async def erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    if await conn.execute(_DELETE_UPLOADS, erasure.user_id) != "DELETE 0":
        await enqueue(conn, FILES_KIND, dedupe_key=FILES_KIND)


PRIVACY = Privacy(erase=erase, exports={"uploads": _UPLOADS}, erases=("media",))
