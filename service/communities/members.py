"""Members as a community sees them: the list, roles, mutes, removal, leaving, ownership transfer,
and the welcome ceremony's second half, self-introductions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import asyncpg
import msgspec
from litestar import Response
from msgspec import UNSET

from service.communities import models as m
from service.communities import queries as q
from service.communities import series
from service.communities.logic import _audit, _community, _membership
from service.core import inbox, presence
from service.core.access import ADMIN_ROLES, access_row, require_admin, require_member, require_not_muted, require_owner
from service.core.content import POST_SCENE, QUEUE_POST_CHECK, Verdict, judge, require_allowed
from service.core.idempotency import replay, run_once, scope_of
from service.core.interactions import record
from service.core.live import departed
from service.core.media import Image, claim_images
from service.core.paging import fetch_page
from service.core.rows import from_row, invalid
from service.errors import Problem
from service.wechat.client import WeChatClient

# Members listed in the order they joined: the cursor holds the last one's joining time and id.
_BY_JOINING = {"key": ("joined_at", "sort_id"), "types": (datetime, int)}


async def list_members(
    conn: asyncpg.Connection,
    community_id: int,
    user_id: int,
    role: str | None,
    limit: int,
    cursor: str | None,
    nickname: str | None = None,
) -> m.MemberPage:
    await require_member(conn, community_id, user_id)
    items, next_cursor = await fetch_page(
        conn,
        q.MEMBERS,
        community_id,
        role,
        nickname,
        user_id,
        limit=limit,
        cursor=cursor,
        item=partial(from_row, m.Member),
        **_BY_JOINING,
    )
    return m.MemberPage(items=items, next_cursor=next_cursor)


async def _own_membership(
    conn: asyncpg.Connection, community_id: int, user_id: int, *, lock: bool = False
) -> asyncpg.Record:
    """The caller's own active membership row (`lock`: for update). The brand's team stands as admin in the
    brand's communities without one (core/access.py), but what is kept on the row (my settings, my
    introduction) is a member's own: `not_member` without it."""
    mine = await conn.fetchrow(q.MEMBERSHIP_FOR_UPDATE if lock else q.MEMBERSHIP, community_id, user_id)
    if mine is None or mine["status"] != "active":  # also: left between the access check and the lock
        raise Problem("not_member", "join the community first")
    return mine


async def _standing(conn: asyncpg.Connection, community_id: int, user_id: int) -> str:
    """The role a member acts with, as the access check reads it: the brand's team stands as admin even where
    their membership row says member, so an admin of the community mutes or removes them no more than another
    admin (only the owner does)."""
    return (await access_row(conn, community_id, user_id))["role"]


async def update_member(
    conn: asyncpg.Connection, community_id: int, actor_id: int, target_id: int, data: m.MemberUpdate
) -> m.Membership:
    """`me`: my notification and follow settings. Others: role (owner only), mute (admins; only the owner
    mutes an admin; nobody mutes the owner)."""
    role_sent = data.role is not UNSET
    mute_sent = data.mute_minutes is not UNSET
    own_sent = data.notifications_muted is not UNSET or data.unfollowed is not UNSET
    async with conn.transaction():
        actor = await require_member(conn, community_id, actor_id)
        if target_id == actor_id:
            if role_sent or mute_sent:
                raise Problem("forbidden", "you cannot change your own role or mute yourself")
            await _own_membership(conn, community_id, actor_id, lock=True)
            if own_sent:
                await conn.execute(
                    q.SET_MEMBER_PREFERENCES,
                    community_id,
                    actor_id,
                    None if data.notifications_muted is UNSET else data.notifications_muted,
                    None if data.unfollowed is UNSET else data.unfollowed,
                )
            if data.notifications_muted is not UNSET:
                await inbox.community_muted(conn, actor_id, community_id, data.notifications_muted)
            return await _membership(conn, community_id, actor_id)

        if own_sent:
            raise Problem("forbidden", "notification and follow settings are the member's own")
        # The owner's demotion in a series: the series lock first, as admissions take it (one plain membership per
        # series).
        demoting = role_sent and data.role == "member" and actor["role"] == "owner"
        sisters = await series.lock(conn, community_id) if demoting else None
        target = await conn.fetchrow(q.MEMBERSHIP_FOR_UPDATE, community_id, target_id)
        if target is None or target["status"] != "active":
            raise Problem("not_found", "no such member")
        target_role = await _standing(conn, community_id, target_id)
        if role_sent:
            if actor["role"] != "owner":
                raise Problem("forbidden", "only the owner promotes and demotes admins")
            if target_role == "owner":
                raise Problem("forbidden", "the owner's role changes only by transferring ownership")
            if data.role != target_role:
                if sisters is not None:
                    await series.check_demotion(conn, sisters, community_id, target_id)
                await conn.execute(q.SET_ROLE, community_id, target_id, data.role)
                action = "member.promoted" if data.role == "admin" else "member.demoted"
                await _audit(conn, community_id, actor_id, action, target_id, {"role": data.role})
                target_role = await _standing(conn, community_id, target_id)
        if mute_sent:
            if actor["role"] not in ADMIN_ROLES:
                raise Problem("forbidden", "only admins mute members")
            if target_role == "owner" or (target_role == "admin" and actor["role"] != "owner"):
                raise Problem("forbidden", "only the owner mutes an admin, and nobody mutes the owner")
            if data.mute_minutes == 0:
                await conn.execute(q.SET_MUTED_UNTIL, community_id, target_id, None)
                await _audit(conn, community_id, actor_id, "member.unmuted", target_id)
            else:
                until = datetime.now(UTC) + timedelta(minutes=data.mute_minutes)
                await conn.execute(q.SET_MUTED_UNTIL, community_id, target_id, until)
                details = {"minutes": data.mute_minutes, "until": until.isoformat()}
                await _audit(conn, community_id, actor_id, "member.muted", target_id, details)
        return await _membership(conn, community_id, target_id)


async def _end_membership(
    conn: asyncpg.Connection, community_id: int, user_id: int, status: str, removed_by: int | None
) -> None:
    await conn.execute(q.END_MEMBERSHIP, community_id, user_id, status, removed_by)
    await conn.execute(q.ADD_MEMBER_COUNT, community_id, -1)
    await conn.execute(q.REVOKE_INVITES_OF, community_id, user_id)
    await record(conn, community_id, user_id, "leave")
    await departed(conn, user_id, community_id)  # their open sockets stop following it on commit
    await presence.end(conn, user_id, community_id)  # no longer online there, from now (after the membership changed)
    await inbox.community_left(conn, user_id, community_id)


async def leave(conn: asyncpg.Connection, community_id: int, user_id: int) -> None:
    """Leave now; leaving twice is fine. Re-joining later goes through the entry mode again."""
    async with conn.transaction():
        if await conn.fetchrow(q.LOCK_COMMUNITY, community_id) is None:
            raise Problem("not_found", "no such community")
        mine = await conn.fetchrow(q.MEMBERSHIP, community_id, user_id)
        if mine is not None and mine["status"] == "left":
            return
        if mine is None or mine["status"] != "active":
            raise Problem("not_member")
        if mine["role"] == "owner":
            raise Problem("owner_must_transfer")
        await _end_membership(conn, community_id, user_id, "left", None)
        await _audit(conn, community_id, user_id, "member.left", user_id)


async def remove_member(
    conn: asyncpg.Connection, community_id: int, admin_id: int, target_id: int, reason: str
) -> None:
    """Admins remove members; only the owner removes an admin; the owner cannot be removed."""
    async with conn.transaction():
        actor = await require_admin(conn, community_id, admin_id)
        await conn.execute(q.LOCK_COMMUNITY, community_id)  # departures change member_count
        target = await conn.fetchrow(q.MEMBERSHIP, community_id, target_id)
        if target is not None and target["status"] == "removed":
            return
        if target is None or target["status"] != "active":
            raise Problem("not_found", "no such member")
        target_role = await _standing(conn, community_id, target_id)
        if target_role == "owner" or (target_role == "admin" and actor["role"] != "owner"):
            raise Problem("forbidden", "only the owner removes an admin, and nobody removes the owner")
        await _end_membership(conn, community_id, target_id, "removed", admin_id)
        await _audit(conn, community_id, admin_id, "member.removed", target_id, {"reason": reason.strip()})


async def transfer_ownership(
    conn: asyncpg.Connection, community_id: int, owner_id: int, new_owner_id: int, key: str | None
) -> Response[bytes]:
    """The owner hands the community to an active member and stays on as an admin; a mute of the new owner ends."""

    async def action() -> tuple[int, m.Community]:
        # Lock first, then check: concurrent transfers see the owner the previous one left behind.
        await conn.execute(q.LOCK_COMMUNITY, community_id)
        await require_owner(conn, community_id, owner_id)
        if new_owner_id != owner_id:
            target = await conn.fetchrow(q.MEMBERSHIP_FOR_UPDATE, community_id, new_owner_id)
            if target is None or target["status"] != "active":
                raise Problem("not_found", "no such member")
            await conn.execute(q.SET_ROLE, community_id, owner_id, "admin")  # one owner at any moment
            await conn.execute(q.SET_ROLE, community_id, new_owner_id, "owner")
            await conn.execute(q.SET_OWNER, community_id, new_owner_id)
            details = {"from": str(owner_id), "to": str(new_owner_id)}
            await _audit(conn, community_id, owner_id, "ownership.transferred", new_owner_id, details)
            # Nobody mutes the owner, so nobody could lift a mute the new owner carried in: it ends here.
            if target["muted_until"] is not None and target["muted_until"] > datetime.now(UTC):
                await conn.execute(q.SET_MUTED_UNTIL, community_id, new_owner_id, None)
                await _audit(conn, community_id, owner_id, "member.unmuted", new_owner_id, {"reason": "ownership"})
        return 200, await _community(conn, community_id, owner_id)

    scope = scope_of("community.transfer", community_id, new_owner_id)
    return await run_once(conn, owner_id, key, scope, action)


# --- the welcome ceremony's second half: introductions ---------------------------------------------------


async def introduce(
    pool: asyncpg.Pool,
    wechat: WeChatClient,
    community_id: int,
    user_id: int,
    data: m.IntroductionCreate,
    key: str | None,
) -> Response[bytes]:
    """The self-introduction, checked by WeChat like any post before others see it (no connection is held
    while WeChat answers): risky is refused, review or an unavailable WeChat keep it pending."""
    text = data.text.strip()
    if not text:
        raise invalid("text", "must not be blank")
    scope = scope_of("community.introduction", community_id, msgspec.to_builtins(data))
    async with pool.acquire() as conn:
        if (replayed := await replay(conn, user_id, key, scope)) is not None:
            return replayed  # a retry answers the introduction it made, without asking WeChat again
        await require_member(conn, community_id, user_id)
        _may_introduce(await _own_membership(conn, community_id, user_id))  # before WeChat is asked
        openid = await conn.fetchval(q.USER_OPENID, user_id)
    verdict = require_allowed(await judge(wechat, openid, POST_SCENE, text), "introduction")
    async with pool.acquire() as conn:
        return await _introduce(conn, community_id, user_id, data, text, verdict, key, scope)


def _may_introduce(mine: asyncpg.Record) -> None:
    """Not while an admin's mute lasts (others read it), and once per membership row."""
    require_not_muted(mine)
    if mine["introduced"]:
        raise Problem("already_introduced")


async def _introduce(
    conn: asyncpg.Connection,
    community_id: int,
    user_id: int,
    data: m.IntroductionCreate,
    text: str,
    verdict: Verdict,
    key: str | None,
    scope: str,
) -> Response[bytes]:
    async def action() -> tuple[int, m.Introduction]:
        await require_member(conn, community_id, user_id)
        _may_introduce(await _own_membership(conn, community_id, user_id, lock=True))  # again, under the lock
        label = None if verdict.outcome == "pass" else verdict.label
        image_ids = [int(media_id) for media_id in data.image_ids]
        images = await claim_images(conn, user_id, image_ids) if image_ids else "approved"
        status = "pending" if images != "approved" else verdict.status  # shown once its photos passed too
        post = await conn.fetchrow(q.INSERT_INTRODUCTION, community_id, user_id, text, status, label, image_ids)
        if verdict.outcome == "unchecked":
            await conn.execute(QUEUE_POST_CHECK, int(post["post_id"]))
        await conn.execute(q.SET_INTRODUCTION, community_id, user_id, int(post["post_id"]))
        await _audit(conn, community_id, user_id, "member.introduced", user_id, {"postId": post["post_id"]})
        await record(conn, community_id, user_id, "introduction", post_id=int(post["post_id"]))
        return 201, from_row(m.Introduction, post, images=msgspec.json.decode(post["images"], type=list[Image]))

    return await run_once(conn, user_id, key, scope, action)


async def newcomers(
    conn: asyncpg.Connection,
    community_id: int,
    admin_id: int,
    days: int,
    introduced: bool | None,
    limit: int,
    cursor: str | None,
) -> m.NewcomerPage:
    await require_admin(conn, community_id, admin_id)
    since = datetime.now(UTC) - timedelta(days=days)
    items, next_cursor = await fetch_page(
        conn,
        q.NEWCOMERS,
        community_id,
        since,
        introduced,
        admin_id,
        limit=limit,
        cursor=cursor,
        item=partial(from_row, m.Newcomer),
        **_BY_JOINING,
    )
    return m.NewcomerPage(items=items, next_cursor=next_cursor)


async def audit_log(
    conn: asyncpg.Connection, community_id: int, admin_id: int, action: str | None, limit: int, cursor: str | None
) -> m.AuditPage:
    await require_admin(conn, community_id, admin_id)
    items, next_cursor = await fetch_page(
        conn, q.AUDIT_LOG, community_id, action, limit=limit, cursor=cursor, item=partial(from_row, m.AuditEntry)
    )
    return m.AuditPage(items=items, next_cursor=next_cursor)
