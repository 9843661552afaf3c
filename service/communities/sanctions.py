"""Sanctions taken from a moderation case (the core's `sanctioned` hook, in the decision's transaction): the
same rules as the member routes (only the owner mutes or removes an admin, nobody the owner), and the
platform operator's delisting of a community."""

from __future__ import annotations

import asyncpg

from service.communities import models as m
from service.communities.logic import _audit
from service.communities.members import remove_member, update_member
from service.core.hooks import Sanctioned
from service.errors import Problem

DELIST = "UPDATE communities SET visibility = 'unlisted', updated_at = now() WHERE id = $1"


async def apply_sanction(conn: asyncpg.Connection, event: Sanctioned) -> None:
    if event.action == "delist":
        await conn.execute(DELIST, event.community_id)
        await _audit(conn, event.community_id, event.actor_id, "community.delisted", None, {"reason": event.reason})
        return
    if event.actor_id is None or event.member_id is None:
        raise Problem("forbidden", "members are muted or removed by their community's admins")
    if event.action == "mute":
        update = m.MemberUpdate(mute_minutes=event.minutes or 0)
        await update_member(conn, event.community_id, event.actor_id, event.member_id, update)
    elif event.action == "remove":
        await remove_member(conn, event.community_id, event.actor_id, event.member_id, event.reason)
