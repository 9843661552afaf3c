"""The growth loop's community side: the referral leaderboard and invite posters.

Referrals are credited by `logic.admit` (first admission only, never to oneself; for paid entry once the
payment admitted the payer). An invite poster is WeChat's mini-program code (wxacode.getUnlimited) opening
the join page with the scene `<community id>.<invite code>`; the PNG is kept in storage per (community,
scene), so drawing a poster again costs WeChat nothing. No connection is held while WeChat draws.
"""

from __future__ import annotations

import hashlib

import asyncpg

from service.communities import growth_queries as gq
from service.communities import models as m
from service.communities import queries as q
from service.core.access import ADMIN_ROLES, require_member
from service.core.storage import Storage
from service.errors import Problem
from service.settings import Settings
from service.wechat.client import WeChatClient


async def referral_leaderboard(
    conn: asyncpg.Connection, community_id: int, user_id: int, limit: int
) -> m.ReferralLeaderboard:
    await require_member(conn, community_id, user_id)
    leaders = await conn.fetch(gq.REFERRAL_LEADERS, community_id, limit)
    mine = await conn.fetchrow(gq.MY_REFERRALS, community_id, user_id)
    return m.ReferralLeaderboard(
        community_id=str(community_id),
        items=[m.ReferralEntry(**dict(row)) for row in leaders],
        mine=m.ReferralEntry(**dict(mine)) if mine is not None else None,
    )


async def invite_poster(
    pool: asyncpg.Pool,
    wechat: WeChatClient,
    storage: Storage,
    settings: Settings,
    community_id: int,
    user_id: int,
    code: str,
) -> bytes:
    """The PNG code of a live invite link: its creator's, or any of the community's for an admin."""
    async with pool.acquire() as conn:
        standing = await require_member(conn, community_id, user_id)
        invite = await conn.fetchrow(q.INVITE_STATE, community_id, code)
        if invite is None or (standing["role"] not in ADMIN_ROLES and invite["created_by"] != user_id):
            raise Problem("invite_not_found")
        if invite["revoked"] or invite["expired"]:
            raise Problem("invite_expired")
        if invite["used_up"]:
            raise Problem("invite_used_up")
        scene = f"{community_id}.{code}"
        key = await conn.fetchval(gq.POSTER, community_id, scene)
    cached = None if key is None else await storage.read(key)
    if cached is not None:
        return cached
    png = await wechat.unlimited_code(scene, settings.invite_page)
    key = f"posters/{community_id}/{hashlib.sha256(scene.encode()).hexdigest()[:32]}.png"
    await storage.put(key, png, "image/png")
    await pool.execute(gq.SAVE_POSTER, community_id, scene, key)
    return png
