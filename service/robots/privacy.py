"""The robots' part of account erasure (core/privacy.py): the member's customer-service messages and the cooldowns
that name them go; robot replies to the member's posts stay (they are the robots' writing)."""

from __future__ import annotations

import asyncpg

from service.core.privacy import Erasure, Privacy

# Before the tombstone replaces the openid: the messages and cooldowns are found by it.
_DELETE_MESSAGES = "DELETE FROM wechat_messages WHERE openid = (SELECT openid FROM users WHERE id = $1)"
_DELETE_COOLDOWNS = """
DELETE FROM robot_cooldowns
WHERE member IN ('user:' || $1::bigint, 'openid:' || (SELECT openid FROM users WHERE id = $1))
"""


async def erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    await conn.execute(_DELETE_MESSAGES, erasure.user_id)
    await conn.execute(_DELETE_COOLDOWNS, erasure.user_id)


PRIVACY = Privacy(erase=erase, erases=("wechat_messages", "robot_cooldowns"), keeps=("robot_replies", "robot_rules"))
