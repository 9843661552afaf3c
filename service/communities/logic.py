"""The rules of communities and membership: who may do what, and in which transaction. Here: admission and the
community itself; joining.py (joining, invites), members.py (members, introductions), paid.py and payouts.py
(paid entry and the owner's money).

Every check runs against the database on every request (no cached roles), so a removed or departed member
loses access at once. Changes to who is a member take the community row's lock, which makes the cap exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Literal

import asyncpg
import msgspec
from litestar import Response
from msgspec import UNSET

from service.communities import models as m
from service.communities import queries as q
from service.communities import series
from service.communities.texts import DEFAULT_TEXTS, TEXTS, check_texts
from service.core import ratelimit
from service.core.access import require_admin, require_member
from service.core.idempotency import replay, run_once, scope_of
from service.core.interactions import record
from service.core.live import joined
from service.core.media import claim_public_image
from service.core.paging import fetch_page
from service.core.robots import post_as_robot
from service.core.rows import from_row
from service.errors import FieldError, Problem
from service.settings import Settings
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


def greeting(template: str, community: str) -> list[str]:
    """The greeting split where the nickname goes: {community} is replaced, nothing else in the template is
    interpreted. Kept with the welcome post, so the erasure can put 已注销用户 exactly where the nickname went."""
    parts, part, start = [], "", 0
    for match in _PLACEHOLDER.finditer(template):
        part += template[start : match.start()]
        if match[1] == "nickname":
            parts.append(part)
            part = ""
        else:
            part += community if match[1] == "community" else match[0]
        start = match.end()
    return [*parts, part + template[start:]]


def render_welcome(template: str, nickname: str, community: str) -> str:
    """The greeting: {nickname} and {community} are replaced; nothing else in the template is interpreted."""
    return (nickname or NEWCOMER_FALLBACK_NAME).join(greeting(template, community))


def _unknown_placeholders(template: str) -> list[str]:
    return sorted({name for name in _PLACEHOLDER.findall(template) if name not in m.WELCOME_PLACEHOLDERS})


# --- admission -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Admission:
    community_id: int
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
    share_id: int | None = None,
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
      transaction; taking your own rows' locks (an order, an invite) first is fine, but not the user's pending
      join request: admit cancels it, so its lock comes after the community's (joining.approve_join_request).
    - A community of a series (series.py): the series' lock comes first, and the newcomer goes to the next sister
      with room (opened when all are full); ``Admission.community_id`` says where. Raises ``already_in_series``
      for a plain member of another sister.
    - Raises ``Problem``: ``not_found`` (no community), ``already_member``, ``member_removed`` (an admin
      removed this user; only ``via="approval"`` lets them back), ``community_full``.
    - On success: the membership is active (a former member's row is reused), member_count is one higher,
      a pending join request of the user is cancelled (in a series, one to any sister), the user's open live
      sockets follow the community on commit (core/live.py `joined`), the welcome robot has posted the greeting,
      the referral is credited (only at a first admission, never to oneself), and the audit log has
      ``member.joined`` with ``actor_id`` (None for the system, e.g. a payment) and ``details``.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("admit() must run inside the caller's transaction")
    if (sisters := await series.lock(conn, community_id)) is not None:
        community_id = await series.place(conn, sisters, community_id, user_id)
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
    if sisters is not None:  # one membership per series: a request to any sister is settled too
        await series.settle_requests(conn, sisters, user_id)
    await joined(conn, user_id, community_id)  # their open sockets follow it on commit, not at the next refresh

    nickname = await conn.fetchval(q.USER_NICKNAME, user_id) or ""
    parts = greeting(community["welcome_template"], community["name"])
    text = (nickname or NEWCOMER_FALLBACK_NAME).join(parts)
    post_id = await post_as_robot(conn, community_id, "welcome", "welcome", text, greeted=(user_id, parts))
    await conn.execute(q.SET_WELCOME_POST, community_id, user_id, post_id)

    logged: dict[str, Any] = {"via": via, "rejoin": current is not None, **(details or {})}
    # A referral brings someone new: coming back after leaving credits nobody. The referrer must still stand here
    # (a member, or the brand's team): one who left or was removed takes their shares with them, as their invite
    # links (INVITER_STANDS).
    if (
        referrer_id is not None
        and referrer_id != user_id
        and current is None
        and await _stands(conn, community_id, referrer_id)
    ):
        await conn.execute(q.INSERT_REFERRAL, community_id, user_id, referrer_id, invite_id, share_id)
        logged["referrerId"] = str(referrer_id)
    await _audit(conn, community_id, actor_id, "member.joined", user_id, logged)
    await record(conn, community_id, user_id, "join")
    return Admission(
        community_id=community_id,
        membership=from_row(m.Membership, row),
        welcome=m.Welcome(
            post_id=str(post_id),
            text=text,
            introduction_required=community["introduction_required"],
            introduction_prompt=community["introduction_prompt"],
        ),
        rejoined=current is not None,
    )


async def _stands(conn: asyncpg.Connection, community_id: int, user_id: int) -> bool:
    return await conn.fetchval(q.REFERRER_STANDS, community_id, user_id)


async def seats_left(conn: asyncpg.Connection, community_id: int) -> int:
    """Free places right now (no lock: advisory, e.g. before creating a payment order)."""
    row = await conn.fetchrow(q.COMMUNITY, community_id)
    if row is None:
        raise Problem("not_found", "no such community")
    return max(0, row["member_cap"] - row["member_count"])


# --- communities ---------------------------------------------------------------------------------------

# The settings' columns, in the order of INSERT_COMMUNITY and UPDATE_COMMUNITY; the cover is set from an upload.
_COLUMNS = (
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
_EDITABLE = tuple(name for name in _COLUMNS if name != "cover_url")  # what the requests name
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
    return [values[name] for name in _COLUMNS]


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
    pool: asyncpg.Pool, wechat: WeChatClient, user_id: int, data: m.CommunityCreate, key: str | None, settings: Settings
) -> Response[bytes]:
    scope = scope_of("community.create", msgspec.to_builtins(data))
    bucket, limit, window = f"create:community:{user_id}", settings.create_rate_communities, settings.create_rate_window
    detail = f"at most {limit} new communities per {window} seconds"
    async with pool.acquire() as conn:
        if (replayed := await replay(conn, user_id, key, scope)) is not None:
            return replayed  # a retry answers what the first created, without asking WeChat again
        # Past the limit, no content check is asked for (WeChat's quota is the whole app's).
        await ratelimit.refuse_if_full(conn, bucket, limit, window, detail)
    values = _normalise({name: getattr(data, name) for name in _EDITABLE} | {"cover_url": ""})
    base_url = settings.public_base_url
    await check_texts(pool, wechat, user_id, values, DEFAULT_TEXTS)  # before a connection is held

    async def action() -> tuple[int, m.Community]:
        # Counted only when one is created: a retry with the same Idempotency-Key answers without coming here.
        await ratelimit.hit(conn, {bucket: limit}, window, detail)
        if data.cover_media_id is not None:
            values["cover_url"] = await _cover(conn, user_id, data.cover_media_id, base_url)
        community_id = await conn.fetchval(q.INSERT_COMMUNITY, user_id, *_settings_args(values))
        await conn.execute(q.INSERT_OWNER, community_id, user_id)
        await _audit(conn, community_id, user_id, "community.created", user_id, {"name": values["name"]})
        return 201, await _community(conn, community_id, user_id)

    async with pool.acquire() as conn:
        return await run_once(conn, user_id, key, scope, action)


async def get_community(conn: asyncpg.Connection, community_id: int, viewer_id: int) -> m.Community:
    """Any signed-in user may read a community (unlisted ones too, by id): they need it to decide to join."""
    return await _community(conn, community_id, viewer_id)


async def _cover(conn: asyncpg.Connection, user_id: int, media_id: str, base_url: str) -> str:
    return await claim_public_image(conn, user_id, int(media_id), "coverMediaId", base_url, "cover")


def _edited(current: asyncpg.Record, role: str, data: m.CommunityUpdate, sent: set[str]) -> dict[str, Any]:
    """The settings after the edit (the cover aside), checked as a whole."""
    if owner_only := sorted(sent.intersection(_OWNER_ONLY)):
        if role != "owner":
            fields = ", ".join(_camel(name) for name in owner_only)
            raise Problem("forbidden", f"only the owner may change {fields}")
    values = {name: current[name] for name in _COLUMNS}
    values.update({name: getattr(data, name) for name in sent})
    if "entry_mode" in sent and data.entry_mode != "paid" and "price_fen" not in sent:
        values["price_fen"] = None  # leaving paid entry drops the price
    return _normalise(values)


async def update_community(
    pool: asyncpg.Pool,
    wechat: WeChatClient,
    community_id: int,
    user_id: int,
    data: m.CommunityUpdate,
    base_url: str,
) -> m.Community:
    sent = {name for name in _EDITABLE if getattr(data, name) is not UNSET}
    if sent.intersection(TEXTS):
        # Only texts that differ from the stored ones are asked about: the settings form resends them all.
        async with pool.acquire() as conn:
            standing = await require_admin(conn, community_id, user_id)
            current = await conn.fetchrow(q.COMMUNITY, community_id)
        await check_texts(pool, wechat, user_id, _edited(current, standing["role"], data, sent), current)
    async with pool.acquire() as conn, conn.transaction():
        standing = await require_admin(conn, community_id, user_id)
        current = await conn.fetchrow(q.LOCK_COMMUNITY, community_id)
        values = _edited(current, standing["role"], data, sent)
        if data.cover_media_id is not UNSET:  # null removes the cover
            media_id = data.cover_media_id
            values["cover_url"] = "" if media_id is None else await _cover(conn, user_id, media_id, base_url)
        if values["member_cap"] < current["member_count"]:
            raise Problem("cap_below_member_count", f"the community has {current['member_count']} members already")
        await conn.execute(q.UPDATE_COMMUNITY, community_id, *_settings_args(values))
        if changed := sorted(_camel(name) for name in _COLUMNS if values[name] != current[name]):
            await _audit(conn, community_id, user_id, "community.updated", None, {"fields": changed})
        return await _community(conn, community_id, user_id)


def _like_pattern(text: str) -> str:
    # The user's text is matched literally: escape LIKE's wildcards and its escape character.
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def discover(
    conn: asyncpg.Connection, query: str | None, tag: str | None, limit: int, cursor: str | None
) -> m.CommunityPage:
    query = (query or "").strip() or None
    tag = (tag or "").strip().lower() or None
    pattern = None if query is None else _like_pattern(query)
    items, next_cursor = await fetch_page(
        conn, q.DISCOVER, pattern, tag, limit=limit, cursor=cursor, item=partial(from_row, m.CommunitySummary)
    )
    return m.CommunityPage(items=items, next_cursor=next_cursor)


async def my_communities(conn: asyncpg.Connection, user_id: int, limit: int, cursor: str | None) -> m.MyCommunityPage:
    items, next_cursor = await fetch_page(
        conn,
        q.MY_COMMUNITIES,
        user_id,
        limit=limit,
        cursor=cursor,
        item=partial(from_row, m.MyCommunity),
        key=("last_activity_at", "sort_id"),
        types=(datetime, int),
    )
    return m.MyCommunityPage(items=items, next_cursor=next_cursor)


async def mark_read(conn: asyncpg.Connection, community_id: int, user_id: int) -> None:
    """I have read the community up to now: its unread count starts again from zero."""
    await require_member(conn, community_id, user_id)
    await conn.execute(q.MARK_READ, community_id, user_id)
