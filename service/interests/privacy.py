"""The interests' part of account erasure (core/privacy.py): the member's tags and settings go. A post's tags stay
with the post (they name no one); the community's top tags are sums over members."""

from __future__ import annotations

import asyncpg

from service.core.privacy import Erasure, Privacy


async def erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    await conn.execute("DELETE FROM member_interests WHERE user_id = $1", erasure.user_id)
    await conn.execute("DELETE FROM interest_preferences WHERE user_id = $1", erasure.user_id)


PRIVACY = Privacy(erase=erase, erases=("member_interests", "interest_preferences"))
