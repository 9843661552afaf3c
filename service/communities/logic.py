"""The rules of communities and membership: who may do what, and in which transaction.

Every check runs against the database on every request (no cached roles), so a removed or departed member
loses access at once. Changes to who is a member take the community row's lock, which makes the cap exact.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg
import msgspec
from litestar import Response
from msgspec import UNSET

from service.communities import models as m
from service.communities import queries as q
from service.core.access import ADMIN_ROLES, require_admin, require_member, require_owner
from service.core.content import POST_SCENE, QUEUE_POST_CHECK, Verdict, judge, require_allowed
from service.core.idempotency import run_once, scope_of
from service.core.interactions import record
from service.core.paging import decode_cursor
from service.core.robots import post_as_robot
from service.core.rows import from_row, invalid, page_of
from service.errors import FieldError, Problem
from service.wechat.client import WeChatClient

Via = Literal["free", "approval", "invite", "paid"]
NEWCOMER_FALLBACK_NAME = "新朋友"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


# --- small helpers -------------------------------------------------------------------------------------


async def _audit(
    conn: asyncpg.Connection,
    community_id: int,
    actor_id: int | None,
    action: str,
    subject_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(q.INSERT_AUDIT, community_id, actor_id, action, subject_id, details or {})


def render_welcome(template: str, nickname: str, community: str) -> str:
    """The greeting: {nickname} and {community} are replaced; nothing else in the template is interpreted."""
    values = {"nickname": nickname or NEWCOMER_FALLBACK_NAME, "community": community}
    return _PLACEHOLDER.sub(lambda match: values.get(match[1], match[0]), template)


def _unknown_placeholders(template: str) -> list[str]:
    return sorted({name for name in _PLACEHOLDER.findall(template) if name not in m.WELCOME_PLACEHOLDERS})


# --- admission -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Admission:
    membership: m.Membership
    welcome: m.Welcome
    rejoined: bool


async def admit(
    conn: asyncpg.Connection,
    community_id: int,
    user_id: int,
    *,
    via: Via,
    actor_id: int | None = None,
    referrer_id: int | None = None,
    invite_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> Admission:
    """Make ``user_id`` an active member of ``community_id``: the one way anybody becomes a member.

    Contract:
    - Call it inside your own transaction (it raises RuntimeError otherwise); nothing is committed here.
      If you go on after it raises, do so from a savepoint you opened around it.
    - It does not look at the entry mode or a payment: the caller decides that the user may enter (free
      join, an admin's approval, a valid invite, a successful payment for ``via="paid"``).
    - It locks the community row (``SELECT ... FOR UPDATE``) before counting, so concurrent admissions are
      serialised and the cap is never exceeded. Take no other community's lock before it in the same
      transaction; taking your own rows' locks (an order, an invite) first is fine.
    - Raises ``Problem``: ``not_found`` (no community), ``already_member``, ``member_removed`` (an admin
      removed this user; only ``via="approval"`` lets them back), ``community_full``.
    - On success: the membership is active (a former member's row is reused), member_count is one higher,
      a pending join request of the user is cancelled, the welcome robot has posted the greeting, the
      referral is recorded (first referral wins), and the audit log has ``member.joined`` with ``actor_id``
      (None for the system, e.g. a payment) and ``details``.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("admit() must run inside the caller's transaction")
    community = await conn.fetchrow(q.LOCK_COMMUNITY, community_id)
    if community is None:
        raise Problem("not_found", "no such community")
    current = await conn.fetchrow(q.MEMBERSHIP, community_id, user_id)
    if current is not None and current["status"] == "active":
        raise Problem("already_member")
    if current is not None and current["status"] == "removed" and via != "approval":
        raise Problem("member_removed")
    if community["member_count"] >= community["member_cap"]:
        raise Problem("community_full", f"all {community['member_cap']} places are taken")

    row = await conn.fetchrow(q.UPSERT_MEMBER, community_id, user_id, via)
    await conn.execute(q.ADD_MEMBER_COUNT, community_id, 1)
    await conn.execute(q.CANCEL_PENDING_REQUEST, community_id, user_id)

    nickname = await conn.fetchval(q.USER_NICKNAME, user_id) or ""
    text = render_welcome(community["welcome_template"], nickname, community["name"])
    post_id = await post_as_robot(conn, community_id, "welcome", "welcome", text)
    await conn.execute(q.SET_WELCOME_POST, community_id, user_id, post_id)

    logged: dict[str, Any] = {"via": via, "rejoin": current is not None, **(details or {})}
    if referrer_id is not None and referrer_id != user_id:
        await conn.execute(q.INSERT_REFERRAL, community_id, user_id, referrer_id, invite_id)
        logged["referrerId"] = str(referrer_id)
    await _audit(conn, community_id, actor_id, "member.joined", user_id, logged)
    await record(conn, community_id, user_id, "join")
    return Admission(
        membership=from_row(m.Membership, row),
        welcome=m.Welcome(
            post_id=str(post_id),
            text=text,
            introduction_required=community["introduction_required"],
            introduction_prompt=community["introduction_prompt"],
        ),
        rejoined=current is not None,
    )


async def seats_left(conn: asyncpg.Connection, community_id: int) -> int:
    """Free places right now (no lock: advisory, e.g. before creating a payment order)."""
    row = await conn.fetchrow(q.COMMUNITY, community_id)
    if row is None:
        raise Problem("not_found", "no such community")
    return max(0, row["member_cap"] - row["member_count"])


# --- communities ---------------------------------------------------------------------------------------

_EDITABLE = (
    "name",
    "description",
    "cover_url",
    "tags",
    "visibility",
    "entry_mode",
    "price_fen",
    "member_cap",
    "welcome_template",
    "introduction_required",
    "introduction_prompt",
    "refund_window_hours",
    "collections_by",
)
_OWNER_ONLY = ("visibility", "entry_mode", "price_fen", "member_cap", "refund_window_hours", "collections_by")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _normalise(values: dict[str, Any]) -> dict[str, Any]:
    """Trim and check a community's settings as a whole; every problem is reported with its field."""
    values = dict(values)
    values["name"] = values["name"].strip()
    values["description"] = values["description"].strip()
    tags: list[str] = []
    for tag in values["tags"]:
        tag = tag.strip().lower()
        if tag and tag not in tags:
            tags.append(tag)
    values["tags"] = tags
    errors = []
    if not values["name"]:
        errors.append(FieldError(field="name", message="must not be blank", source="body"))
    if unknown := _unknown_placeholders(values["welcome_template"]):
        allowed = ", ".join("{" + p + "}" for p in m.WELCOME_PLACEHOLDERS)
        message = f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; use {allowed}"
        errors.append(FieldError(field="welcomeTemplate", message=message, source="body"))
    paid = values["entry_mode"] == "paid"
    if paid and values["price_fen"] is None:
        errors.append(FieldError(field="priceFen", message="required when entryMode is paid", source="body"))
    if not paid and values["price_fen"] is not None:
        errors.append(FieldError(field="priceFen", message="only a paid community has a price", source="body"))
    if errors:
        raise Problem("validation_failed", "invalid community settings", errors=errors)
    return values


def _settings_args(values: dict[str, Any]) -> list[Any]:
    return [values[name] for name in _EDITABLE]


async def _membership(conn: asyncpg.Connection, community_id: int, user_id: int) -> m.Membership | None:
    row = await conn.fetchrow(q.MEMBERSHIP, community_id, user_id)
    return None if row is None else from_row(m.Membership, row)


async def _community(conn: asyncpg.Connection, community_id: int, viewer_id: int) -> m.Community:
    row = await conn.fetchrow(q.COMMUNITY, community_id)
    if row is None:
        raise Problem("not_found", "no such community")
    request = await conn.fetchrow(q.LATEST_REQUEST_OF, community_id, viewer_id)
    return from_row(
        m.Community,
        row,
        membership=await _membership(conn, community_id, viewer_id),
        join_request=None if request is None else from_row(m.JoinRequest, request),
    )


async def create_community(
    conn: asyncpg.Connection, user_id: int, data: m.CommunityCreate, key: str | None
) -> Response[bytes]:
    values = _normalise(msgspec.structs.asdict(data))

    async def action() -> tuple[int, m.Community]:
        community_id = await conn.fetchval(q.INSERT_COMMUNITY, user_id, *_settings_args(values))
        await conn.execute(q.INSERT_OWNER, community_id, user_id)
        await _audit(conn, community_id, user_id, "community.created", user_id, {"name": values["name"]})
        return 201, await _community(conn, community_id, user_id)

    scope = scope_of("community.create", msgspec.to_builtins(data))
    return await run_once(conn, user_id, key, scope, action)


async def get_community(conn: asyncpg.Connection, community_id: int, viewer_id: int) -> m.Community:
    """Any signed-in user may read a community (unlisted ones too, by id): they need it to decide to join."""
    return await _community(conn, community_id, viewer_id)


async def update_community(
    conn: asyncpg.Connection, community_id: int, user_id: int, data: m.CommunityUpdate
) -> m.Community:
    sent = {name for name in _EDITABLE if getattr(data, name) is not UNSET}
    async with conn.transaction():
        standing = await require_admin(conn, community_id, user_id)
        current = await conn.fetchrow(q.LOCK_COMMUNITY, community_id)
        if owner_only := sorted(sent.intersection(_OWNER_ONLY)):
            if standing["role"] != "owner":
                fields = ", ".join(_camel(name) for name in owner_only)
                raise Problem("forbidden", f"only the owner may change {fields}")
        values = {name: current[name] for name in _EDITABLE}
        values.update({name: getattr(data, name) for name in sent})
        if "entry_mode" in sent and data.entry_mode != "paid" and "price_fen" not in sent:
            values["price_fen"] = None  # leaving paid entry drops the price
        values = _normalise(values)
        if values["member_cap"] < current["member_count"]:
            raise Problem("cap_below_member_count", f"the community has {current['member_count']} members already")
        await conn.execute(q.UPDATE_COMMUNITY, community_id, *_settings_args(values))
        if changed := sorted(_camel(name) for name in _EDITABLE if values[name] != current[name]):
            await _audit(conn, community_id, user_id, "community.updated", None, {"fields": changed})
        return await _community(conn, community_id, user_id)


def _like_pattern(text: str) -> str:
    # The user's text is matched literally: escape LIKE's wildcards and its escape character.
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def discover(
    conn: asyncpg.Connection, query: str | None, tag: str | None, limit: int, cursor: str | None
) -> m.CommunityPage:
    after = decode_cursor(cursor, int)
    query = (query or "").strip() or None
    tag = (tag or "").strip().lower() or None
    rows = await conn.fetch(
        q.DISCOVER,
        None if query is None else _like_pattern(query),
        tag,
        after[0] if after else None,
        limit + 1,
    )
    return page_of(m.CommunitySummary, m.CommunityPage, rows, limit, lambda row: (row["sort_id"],))


async def my_communities(conn: asyncpg.Connection, user_id: int, limit: int, cursor: str | None) -> m.MyCommunityPage:
    after = decode_cursor(cursor, datetime, int)
    rows = await conn.fetch(q.MY_COMMUNITIES, user_id, *(after or (None, None)), limit + 1)
    return page_of(m.MyCommunity, m.MyCommunityPage, rows, limit, lambda row: (row["last_activity_at"], row["sort_id"]))


async def mark_read(conn: asyncpg.Connection, community_id: int, user_id: int) -> None:
    """I have read the community up to now: its unread count starts again from zero."""
    await require_member(conn, community_id, user_id)
    await conn.execute(q.MARK_READ, community_id, user_id)


# --- joining -------------------------------------------------------------------------------------------


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


async def _admit_or_report(
    conn: asyncpg.Connection, community_id: int, user_id: int, *, via: Via, invite_code: str | None
) -> tuple[int, m.JoinResult]:
    try:
        # A savepoint: when admission is refused, the invite use it took is given back too.
        async with conn.transaction():
            invite = None if invite_code is None else await _use_invite(conn, community_id, invite_code)
            details = {} if invite_code is None else {"inviteCode": invite_code}
            admission = await admit(
                conn,
                community_id,
                user_id,
                via=via,
                actor_id=user_id,
                referrer_id=None if invite is None else invite["created_by"],
                invite_id=None if invite is None else invite["id"],
                details=details,
            )
    except Problem as problem:
        if problem.code != "already_member":
            raise
        membership = await _membership(conn, community_id, user_id)
        return 200, m.JoinResult(outcome="already_member", membership=membership)
    return 201, m.JoinResult(outcome="joined", membership=admission.membership, welcome=admission.welcome)


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
            return await _admit_or_report(conn, community_id, user_id, via="invite", invite_code=data.invite_code)
        if community["entry_mode"] == "free" and not removed:
            return await _admit_or_report(conn, community_id, user_id, via="free", invite_code=None)
        # Approval communities, and removed members of free ones asking to come back: an admin decides.
        if community["member_count"] >= community["member_cap"]:
            raise Problem("community_full", f"all {community['member_cap']} places are taken")
        request_id = await conn.fetchval(q.INSERT_JOIN_REQUEST, community_id, user_id, data.message.strip())
        if request_id is None:  # one pending request per member: asking again shows the first
            request_id = await conn.fetchval(q.PENDING_REQUEST_OF, community_id, user_id)
        return 202, m.JoinResult(outcome="pending", request=await _join_request(conn, request_id, community_id))

    scope = scope_of("community.join", community_id, msgspec.to_builtins(data))
    return await run_once(conn, user_id, key, scope, action)


async def list_join_requests(
    conn: asyncpg.Connection, community_id: int, user_id: int, status: str, limit: int, cursor: str | None
) -> m.JoinRequestPage:
    await require_admin(conn, community_id, user_id)
    after = decode_cursor(cursor, int)
    rows = await conn.fetch(q.JOIN_REQUESTS, community_id, status, after[0] if after else None, limit + 1)
    return page_of(m.JoinRequest, m.JoinRequestPage, rows, limit, lambda row: (row["sort_id"],))


async def approve_join_request(
    conn: asyncpg.Connection, community_id: int, request_id: int, admin_id: int, key: str | None
) -> Response[bytes]:
    """Admit the applicant (cap enforced by admit); approving an approved request again answers the same."""

    async def action() -> tuple[int, m.JoinRequest]:
        await require_admin(conn, community_id, admin_id)
        request = await conn.fetchrow(q.LOCK_JOIN_REQUEST, request_id, community_id)
        if request is None:
            raise Problem("not_found", "no such join request in this community")
        if request["status"] == "approved":
            return 200, await _join_request(conn, request_id, community_id)
        if request["status"] != "pending":
            raise Problem("request_not_pending", f"the request is {request['status']}")
        await conn.execute(q.DECIDE_JOIN_REQUEST, request_id, community_id, "approved", "", admin_id)
        await admit(
            conn,
            community_id,
            request["user_id"],
            via="approval",
            actor_id=admin_id,
            details={"requestId": str(request_id)},
        )
        return 200, await _join_request(conn, request_id, community_id)

    return await run_once(conn, admin_id, key, scope_of("join_request.approve", community_id, request_id), action)


async def reject_join_request(
    conn: asyncpg.Connection, community_id: int, request_id: int, admin_id: int, reason: str
) -> m.JoinRequest:
    async with conn.transaction():
        await require_admin(conn, community_id, admin_id)
        request = await conn.fetchrow(q.LOCK_JOIN_REQUEST, request_id, community_id)
        if request is None:
            raise Problem("not_found", "no such join request in this community")
        if request["status"] == "rejected":
            return await _join_request(conn, request_id, community_id)
        if request["status"] != "pending":
            raise Problem("request_not_pending", f"the request is {request['status']}")
        reason = reason.strip()
        await conn.execute(q.DECIDE_JOIN_REQUEST, request_id, community_id, "rejected", reason, admin_id)
        details = {"requestId": str(request_id), "reason": reason}
        await _audit(conn, community_id, admin_id, "join_request.rejected", request["user_id"], details)
        return await _join_request(conn, request_id, community_id)


# --- invites -------------------------------------------------------------------------------------------


async def create_invite(conn: asyncpg.Connection, community_id: int, user_id: int, data: m.InviteCreate) -> m.Invite:
    """Any member may invite (referrals are rewarded later), except in approval communities, where a link
    would let people skip the review: there only admins create links."""
    async with conn.transaction():
        standing = await require_member(conn, community_id, user_id)
        if standing["entry_mode"] == "approval" and standing["role"] not in ADMIN_ROLES:
            raise Problem("forbidden", "in an approval community only admins create invite links")
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
    after = decode_cursor(cursor, int)
    rows = await conn.fetch(q.INVITES, community_id, creator, after[0] if after else None, limit + 1)
    return page_of(m.Invite, m.InvitePage, rows, limit, lambda row: (row["sort_id"],))


async def revoke_invite(conn: asyncpg.Connection, community_id: int, user_id: int, code: str) -> None:
    async with conn.transaction():
        standing = await require_member(conn, community_id, user_id)
        creator = None if standing["role"] in ADMIN_ROLES else user_id
        row = await conn.fetchrow(q.REVOKE_INVITE, community_id, code, creator)
        if row is None:
            raise Problem("invite_not_found")
        await _audit(conn, community_id, user_id, "invite.revoked", None, {"code": code})


# --- members -------------------------------------------------------------------------------------------


async def list_members(
    conn: asyncpg.Connection, community_id: int, user_id: int, role: str | None, limit: int, cursor: str | None
) -> m.MemberPage:
    await require_member(conn, community_id, user_id)
    after = decode_cursor(cursor, datetime, int)
    rows = await conn.fetch(q.MEMBERS, community_id, role, *(after or (None, None)), limit + 1)
    return page_of(m.Member, m.MemberPage, rows, limit, lambda row: (row["joined_at"], row["sort_id"]))


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
            if own_sent:
                await conn.execute(
                    q.SET_MEMBER_PREFERENCES,
                    community_id,
                    actor_id,
                    None if data.notifications_muted is UNSET else data.notifications_muted,
                    None if data.unfollowed is UNSET else data.unfollowed,
                )
            return await _membership(conn, community_id, actor_id)

        if own_sent:
            raise Problem("forbidden", "notification and follow settings are the member's own")
        target = await conn.fetchrow(q.MEMBERSHIP_FOR_UPDATE, community_id, target_id)
        if target is None or target["status"] != "active":
            raise Problem("not_found", "no such member")
        target_role = target["role"]
        if role_sent:
            if actor["role"] != "owner":
                raise Problem("forbidden", "only the owner promotes and demotes admins")
            if target_role == "owner":
                raise Problem("forbidden", "the owner's role changes only by transferring ownership")
            if data.role != target_role:
                await conn.execute(q.SET_ROLE, community_id, target_id, data.role)
                action = "member.promoted" if data.role == "admin" else "member.demoted"
                await _audit(conn, community_id, actor_id, action, target_id, {"role": data.role})
                target_role = data.role
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
        if target["role"] == "owner" or (target["role"] == "admin" and actor["role"] != "owner"):
            raise Problem("forbidden", "only the owner removes an admin, and nobody removes the owner")
        await _end_membership(conn, community_id, target_id, "removed", admin_id)
        await _audit(conn, community_id, admin_id, "member.removed", target_id, {"reason": reason.strip()})


async def transfer_ownership(
    conn: asyncpg.Connection, community_id: int, owner_id: int, new_owner_id: int, key: str | None
) -> Response[bytes]:
    """The owner hands the community to an active member and stays on as an admin."""

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
    async with pool.acquire() as conn:
        await require_member(conn, community_id, user_id)
        openid = await conn.fetchval(q.USER_OPENID, user_id)
    verdict = require_allowed(await judge(wechat, openid, POST_SCENE, text), "introduction")
    async with pool.acquire() as conn:
        return await _introduce(conn, community_id, user_id, data, text, verdict, key)


async def _introduce(
    conn: asyncpg.Connection,
    community_id: int,
    user_id: int,
    data: m.IntroductionCreate,
    text: str,
    verdict: Verdict,
    key: str | None,
) -> Response[bytes]:
    async def action() -> tuple[int, m.Introduction]:
        await require_member(conn, community_id, user_id)
        mine = await conn.fetchrow(q.MEMBERSHIP_FOR_UPDATE, community_id, user_id)
        if mine["status"] != "active":  # left between the check and the lock
            raise Problem("not_member")
        if mine["muted_until"] is not None and mine["muted_until"] > datetime.now(UTC):
            raise Problem("member_muted", f"muted until {mine['muted_until'].isoformat()}")
        if mine["introduced"]:
            raise Problem("already_introduced")
        label = None if verdict.outcome == "pass" else verdict.label
        post = await conn.fetchrow(
            q.INSERT_INTRODUCTION, community_id, user_id, text, data.image_urls, verdict.status, label
        )
        if verdict.outcome == "unchecked":
            await conn.execute(QUEUE_POST_CHECK, int(post["post_id"]))
        await conn.execute(q.SET_INTRODUCTION, community_id, user_id, int(post["post_id"]))
        await _audit(conn, community_id, user_id, "member.introduced", user_id, {"postId": post["post_id"]})
        await record(conn, community_id, user_id, "introduction", post_id=int(post["post_id"]))
        return 201, from_row(m.Introduction, post)

    scope = scope_of("community.introduction", community_id, msgspec.to_builtins(data))
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
    after = decode_cursor(cursor, datetime, int)
    rows = await conn.fetch(q.NEWCOMERS, community_id, since, introduced, *(after or (None, None)), limit + 1)
    return page_of(m.Newcomer, m.NewcomerPage, rows, limit, lambda row: (row["joined_at"], row["sort_id"]))


async def audit_log(
    conn: asyncpg.Connection, community_id: int, admin_id: int, action: str | None, limit: int, cursor: str | None
) -> m.AuditPage:
    await require_admin(conn, community_id, admin_id)
    after = decode_cursor(cursor, int)
    rows = await conn.fetch(q.AUDIT_LOG, community_id, action, after[0] if after else None, limit + 1)
    return page_of(m.AuditEntry, m.AuditPage, rows, limit, lambda row: (row["sort_id"],))
