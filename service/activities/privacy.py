"""Activities' part of account export (core/privacy.py): check-ins. They stay under the tombstone's id (streaks and
points are the activity's record); activities an admin created stay."""

from __future__ import annotations

import asyncpg

from service.core.privacy import AccountExport, ExportedCheckIn, Privacy, fill

_CHECK_INS = """
SELECT id::text AS id, activity_id::text AS activity_id, community_id::text AS community_id,
       post_id::text AS post_id, points, streak, created_at
FROM check_ins WHERE user_id = $1 ORDER BY id
"""


async def export(conn: asyncpg.Connection, user_id: int, into: AccountExport) -> None:
    await fill(conn, into.check_ins, ExportedCheckIn, _CHECK_INS, user_id)


PRIVACY = Privacy(export=export, keeps=("activities", "check_ins"))
