"""Collections' part of account export (core/privacy.py): what the member paid into. Participations and the
collections the member started stay: they are money records."""

from __future__ import annotations

import asyncpg

from service.core.privacy import AccountExport, ExportedCollection, Privacy, fill

_COLLECTIONS = """
SELECT p.collection_id::text AS collection_id, c.title, p.status, p.order_id::text AS order_id, p.paid_at
FROM collection_participants p JOIN collections c ON c.id = p.collection_id
WHERE p.user_id = $1 ORDER BY p.collection_id
"""


async def export(conn: asyncpg.Connection, user_id: int, into: AccountExport) -> None:
    await fill(conn, into.collections, ExportedCollection, _COLLECTIONS, user_id)


PRIVACY = Privacy(export=export, keeps=("collections", "collection_participants"))
