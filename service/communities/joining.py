"""Joining a community: free, by invite, or by request and approval; invites and referrals.
Each admission takes the community row's lock, so the cap is exact; a full community of a series sends the
newcomer to a sister (series.py)."""

from __future__ import annotations

import secrets
from functools import partial

import asyncpg
import msgspec
from litestar import Response

from service.communities import models as m
from service.communities import queries as q
from service.communities import series
from service.communities.logic import Via, _audit, _membership, admit
from service.core import ratelimit
from service.core.access import ADMIN_ROLES, require_admin, require_member, require_not_muted
from service.core.idempotency import run_once, scope_of
from service.core.inbox import Item, deliver
from service.core.paging import fetch_page
from service.core.revocation import hold_account
from service.core.rows import from_row
from service.errors import Problem
from service.settings import Settings


async def _use_invite(conn: asyncpg.Connection, community_id: int, code: str) -> asyncpg.Record:
    row = await conn.fetchrow(q.USE_INVITE, community_id, code)
    if row is not None:
        return row
    state = await conn.fetchrow(q.INVITE_STATE, community_id, code)
    if state is None:
        raise Problem("invite_not_found")
    if state["revoked"] or state["expired"]:
        raise Problem("invite_expired")
    raise Problem("invite_used_up")


async def _join_request(conn: asyncpg.Connection, request_id: int, community_id: int) -> m.JoinRequest:
    return from_row(m.JoinRequest, await conn.fetchrow(q.JOIN_REQUEST, request_id, community_id))


async def share_of(conn: asyncpg.Connection, community_id: int, code: str | None) -> asyncpg.Record | None:
    """The share (id, sharer) a join came through; None for no code, or one that is not this community's."""
    return None if code is None else await conn.fetchrow(q.SHARE_OF, community_id, code)


async def _admit_or_report(
    conn: asyncpg.Connection, community_id: int, user_id: int, *, via: Via, data: m.JoinBody
) -> tuple[int, m.JoinResult]:
    try:
        # A savepoint: when admission is refused, the invite use it took is given back too.
        async with conn.transaction():
            invite = None if data.invite_code is None else await _use_invite(conn, community_id, data.invite_code)
            share = None if invite is not None else await share_of(conn, community_id, data.share_code)
            details = {"inviteCode": data.invite_code} if invite else {"shareId": str(share["id"])} if share else {}
            referrer = invite["created_by"] if invite else share["user_id"] if share else None
            admission = await admit(
                conn,
                community_id,
                user_id,
                via=via,
                actor_id=user_id,
                referrer_id=referrer,
                invite_id=None if invite is None else invite["id"],
                share_id=None if share is None else share["id"],
                details=details,
            )
    except Problem as problem:
        if problem.code != "already_member":
            raise
        membership = await _membership(conn, community_id, user_id)
        return 200, m.JoinResult(outcome="already_member", membership=membership)
    return 201, m.JoinResult(
        outcome="joined",
        community_id=str(admission.community_id),
        membership=admission.membership,
        welcome=admission.welcome,
    )


async def join(
    conn: asyncpg.Connection, community_id: int, user_id: int, data: m.JoinBody | None, key: str | None
) -> Response[bytes]:
    """Free: admitted at once (201). Approval: a pending request (202). Already a member: 200 with outcome
    `already_member`. An invite code admits without review. Paid communities go through `paid.join`; this
    answers `payment_required` only if a community became paid after `paid.join` looked."""
    data = data or m.JoinBody()

    async def action() -> tuple[int, m.JoinResult]:
        community = await conn.fetchrow(q.COMMUNITY, community_id)
        if community is None:
            raise Problem("not_found", "no such community")
        mine = await conn.fetchrow(q.MEMBERSHIP, community_id, user_id)
        if mine is not None and mine["status"] == "active":
            return 200, m.JoinResult(outcome="already_member", membership=from_row(m.Membership, mine))
        if community["entry_mode"] == "paid":
            raise Problem("payment_required", f"joining costs {community['price_fen']} fen")
        removed = mine is not None and mine["status"] == "removed"
        if data.invite_code is not None:
            return await _admit_or_report(conn, community_id, user_id, via="invite", data=data)
        if community["entry_mode"] == "free" and not removed:
            return await _admit_or_report(conn, community_id, user_id, via="free", data=data)
        # Approval communities, and removed members of free ones asking to come back: an admin decides. The
        # community's row is held in key-share mode (what the request's foreign key takes anyway, only earlier) and
        # the membership read again under it: an admission under way (an invite, at the same instant) holds the row
        # for update, so it either committed before this read or finds the request when it cancels pending ones.
        # Without it, a request read "not a member" before that admission committed and stayed pending beside it.
        # In a series, the series' row first (key share, before the community's, as an admission's locks go): a
        # plain member of a sister is refused, and a request racing an admission to a sister is found by it.
        await series.check_request(conn, community_id, user_id)
        await conn.execute(q.KEY_SHARE_COMMUNITY, community_id)
        mine = await conn.fetchrow(q.MEMBERSHIP, community_id, user_id)
        if mine is not None and mine["status"] == "active":
            return 200, m.JoinResult(outcome="already_member", membership=from_row(m.Membership, mine))
        # A full community of a series takes the request: the approval admits to a sister with room.
        await series.check_room(conn, community)
        share = await share_of(conn, community_id, data.share_code)  # credited if the request is approved
        share_id = None if share is None else share["id"]
        request_id = await conn.fetchval(q.INSERT_JOIN_REQUEST, community_id, user_id, data.message.strip(), share_id)
        if request_id is None:  # one pending request per member: asking again shows the first
            request_id = await conn.fetchval(q.PENDING_REQUEST_OF, community_id, user_id)
        return 202, m.JoinResult(outcome="pending", request=await _join_request(conn, request_id, community_id))

    scope = scope_of("community.join", community_id, msgspec.to_builtins(data))
    return await run_once(conn, user_id, key, scope, action)


async def list_join_requests(
    conn: asyncpg.Connection, community_id: int, user_id: int, status: str, limit: int, cursor: str | None
) -> m.JoinRequestPage:
    await require_admin(conn, community_id, user_id)
    items, next_cursor = await fetch_page(
        conn, q.JOIN_REQUESTS, community_id, status, limit=limit, cursor=cursor, item=partial(from_row, m.JoinRequest)
    )
    return m.JoinRequestPage(items=items, next_cursor=next_cursor)


async def approve_join_request(
    conn: asyncpg.Connection, community_id: int, request_id: int, admin_id: int, key: str | None
) -> Response[bytes]:
    """Admit the applicant (cap enforced by admit); approving an approved request again answers the same."""

    async def action() -> tuple[int, m.JoinRequest]:
        await require_admin(conn, community_id, admin_id)
        # The locks in an admission's order (series, community, then the request, which an admission by another
        # path cancels): holding the request first deadlocked with an invite or a payment of the same applicant.
        await series.lock(conn, community_id)
        await conn.execute(q.LOCK_COMMUNITY, community_id)
        request = await conn.fetchrow(q.LOCK_JOIN_REQUEST, request_id, community_id)
        if request is None:
            raise Problem("not_found", "no such join request in this community")
        if request["status"] == "approved":
            return 200, await _join_request(conn, request_id, community_id)
        if request["status"] != "pending":
            raise Problem("request_not_pending", f"the request is {request['status']}")
        await conn.execute(q.DECIDE_JOIN_REQUEST, request_id, community_id, "approved", "", admin_id)
        admission = await admit(
            conn,
            community_id,
            request["user_id"],
            via="approval",
            actor_id=admin_id,
            referrer_id=request["sharer_id"],
            share_id=request["share_id"],
            details={"requestId": str(request_id)},
        )
        # Where they were admitted: in a series, a full community's approval seats them in a sister (series.py).
        placed = admission.community_id
        await deliver(conn, Item(request["user_id"], "join_approved", "community", placed, placed))
        return 200, await _join_request(conn, request_id, community_id)

    return await run_once(conn, admin_id, key, scope_of("join_request.approve", community_id, request_id), action)


async def reject_join_request(
    conn: asyncpg.Connection, community_id: int, request_id: int, admin_id: int, reason: str
) -> m.JoinRequest:
    async with conn.transaction():
        await require_admin(conn, community_id, admin_id)
        # Before the request's row, as an approval: the audit entry's key share on the community would otherwise
        # wait, holding the request, for an admission that waits to cancel it.
        await conn.execute(q.KEY_SHARE_COMMUNITY, community_id)
        request = await conn.fetchrow(q.LOCK_JOIN_REQUEST, request_id, community_id)
        if request is None:
            raise Problem("not_found", "no such join request in this community")
        if request["status"] == "rejected":
            return await _join_request(conn, request_id, community_id)
        if request["status"] != "pending":
            raise Problem("request_not_pending", f"the request is {request['status']}")
        # A request left pending beside an active membership (a race fixed since) is settled, not refused: it is
        # cancelled, as an admission cancels it, and the member gets no rejection notice. The community's key share
        # above keeps an admission from committing between this read and the decision.
        mine = await conn.fetchrow(q.MEMBERSHIP, community_id, request["user_id"])
        if mine is not None and mine["status"] == "active":
            await conn.execute(q.CANCEL_PENDING_REQUEST, community_id, request["user_id"])
            return await _join_request(conn, request_id, community_id)
        reason = reason.strip()
        await conn.execute(q.DECIDE_JOIN_REQUEST, request_id, community_id, "rejected", reason, admin_id)
        details = {"requestId": str(request_id), "reason": reason}
        await _audit(conn, community_id, admin_id, "join_request.rejected", request["user_id"], details)
        rejected = Item(
            request["user_id"], "join_rejected", "community", community_id, community_id, data={"reason": reason}
        )
        await deliver(conn, rejected)
        return await _join_request(conn, request_id, community_id)


# --- invites -------------------------------------------------------------------------------------------


async def create_invite(
    conn: asyncpg.Connection, settings: Settings, community_id: int, user_id: int, data: m.InviteCreate
) -> m.Invite:
    """Any member may invite (referrals count in reward pools, docs/growth.md), except in approval communities,
    where a link would let people skip the review: there only admins create links. A muted member may not (a
    link speaks for the community), and nobody creates more than CREATE_RATE_INVITES per CREATE_RATE_WINDOW
    seconds."""
    async with conn.transaction():
        await hold_account(conn, user_id)
        standing = await require_member(conn, community_id, user_id)
        if standing["entry_mode"] == "approval" and standing["role"] not in ADMIN_ROLES:
            raise Problem("forbidden", "in an approval community only admins create invite links")
        require_not_muted(standing)
        limit = settings.create_rate_invites
        detail = f"at most {limit} invite links per {settings.create_rate_window} seconds"
        await ratelimit.hit(conn, {f"create:invite:{user_id}": limit}, settings.create_rate_window, detail)
        code = secrets.token_urlsafe(9)
        row = await conn.fetchrow(q.INSERT_INVITE, community_id, code, user_id, data.max_uses, data.expires_in_hours)
        details = {"code": code, "maxUses": data.max_uses, "expiresAt": row["expires_at"].isoformat()}
        await _audit(conn, community_id, user_id, "invite.created", None, details)
        return from_row(m.Invite, row)


async def list_invites(
    conn: asyncpg.Connection, community_id: int, user_id: int, limit: int, cursor: str | None
) -> m.InvitePage:
    """Admins see every link of the community; members see their own."""
    standing = await require_member(conn, community_id, user_id)
    creator = None if standing["role"] in ADMIN_ROLES else user_id
    items, next_cursor = await fetch_page(
        conn, q.INVITES, community_id, creator, limit=limit, cursor=cursor, item=partial(from_row, m.Invite)
    )
    return m.InvitePage(items=items, next_cursor=next_cursor)


async def revoke_invite(conn: asyncpg.Connection, community_id: int, user_id: int, code: str) -> None:
    async with conn.transaction():
        standing = await require_member(conn, community_id, user_id)
        creator = None if standing["role"] in ADMIN_ROLES else user_id
        row = await conn.fetchrow(q.REVOKE_INVITE, community_id, code, creator)
        if row is None:
            raise Problem("invite_not_found")
