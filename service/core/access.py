"""Membership access, for every domain: is the caller a member, an admin, the owner; may they post now?

Every check runs against the database on every request (no cached roles), so a removed or departed member
loses access at once. One pair of codes for every domain: `not_member` (not an active member) and
`forbidden` (a member whose role does not allow it). A brand's owner and admins count as admins of every
community of the brand (docs/brands.md).
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from service.errors import Problem

ADMIN_ROLES = frozenset({"owner", "admin"})

# The brand's team (docs/brands.md) stands as admins in every community of the brand, member or not; a community's
# owner stays its owner. One rule, read by ACCESS and by role_of(), over a community's row `c`, the membership `m` and
# the brand's team row `b` (role_of names them apart, as it runs inside other statements).


def _role(m: str = "m", b: str = "b") -> str:
    return f"""CASE WHEN {b}.user_id IS NOT NULL AND ({m}.status IS DISTINCT FROM 'active' OR {m}.role = 'member')
            THEN 'admin' ELSE {m}.role END"""


def _status(m: str = "m", b: str = "b") -> str:
    return f"CASE WHEN {b}.user_id IS NOT NULL THEN 'active' ELSE {m}.status END"


def _standing(community: str, user: str, c: str = "c", m: str = "m", b: str = "b") -> str:
    return f"""FROM communities {c}
LEFT JOIN memberships {m} ON {m}.community_id = {c}.id AND {m}.user_id = {user}
LEFT JOIN brand_admins {b} ON {b}.brand_id = {c}.brand_id AND {b}.user_id = {user}
WHERE {c}.id = {community}"""


ACCESS = f"""
SELECT {_role()} AS role, {_status()} AS status,
       m.muted_until, m.introduction_post_id IS NOT NULL AS introduced,
       c.introduction_required, c.entry_mode, b.user_id IS NOT NULL AS brand_admin
{_standing("$1", "$2")}
"""  # noqa: S608


def role_of(community: str, user: str) -> str:
    """SQL: the role (`owner`, `admin`, `member`) the access check gives `user` in `community`, NULL unless they
    stand there (an active member, or on the brand's team). For a right that lasts only while someone other
    than the caller stands, checked inside another statement: an invite link speaks for its creator."""
    names = {"m": "access_m", "b": "access_b"}  # apart from the enclosing statement's
    standing = _standing(community, user, c="access_c", **names)
    return f"(SELECT {_role(**names)} {standing} AND {_status(**names)} = 'active')"


def standing_status(m: str = "m", b: str = "b") -> str:
    """SQL: the caller's status as the access check reads it, from their membership row `m` and the brand's team row
    `b` (joined as `brand_admins b ON b.brand_id = <the community>.brand_id AND b.user_id = <the caller>`): `active`
    for the brand's team, member or not; for reads that check the standing inside their own statement (the feed)."""
    return _status(m, b)


def standing_role(m: str = "m", b: str = "b") -> str:
    """SQL: the caller's role as the access check reads it, over the same `m` and `b` as standing_status(): `admin`
    for the brand's team unless their membership gives them more (a community's owner stays its owner)."""
    return _role(m, b)


BRAND_ROLE = """
SELECT a.role FROM brands b LEFT JOIN brand_admins a ON a.brand_id = b.id AND a.user_id = $2 WHERE b.id = $1
"""


async def brand_role(conn: asyncpg.Connection, brand_id: int, user_id: int) -> str:
    """The caller's role on a brand's team (`owner` or `admin`): `not_found` for no brand, `forbidden` off the
    team. For every domain that acts for a brand (brands, brand-funded reward pools)."""
    row = await conn.fetchrow(BRAND_ROLE, brand_id, user_id)
    if row is None:
        raise Problem("not_found", "no such brand")
    if row["role"] is None:
        raise Problem("forbidden", "only the brand's owner and admins may do this")
    return row["role"]


async def access_row(conn: asyncpg.Connection, community_id: int, user_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(ACCESS, community_id, user_id)
    if row is None:
        raise Problem("not_found", "no such community")
    return row


async def require_member(conn: asyncpg.Connection, community_id: int, user_id: int) -> asyncpg.Record:
    """The caller's standing in the community (role, status, muted_until, introduced, community settings).

    Raises `not_found` when the community does not exist and `not_member` unless the caller is an active
    member. Other domains call this (or the two below) before showing or changing anything of a community.
    """
    row = await access_row(conn, community_id, user_id)
    if row["status"] != "active":
        raise Problem("not_member")
    return row


async def require_admin(conn: asyncpg.Connection, community_id: int, user_id: int) -> asyncpg.Record:
    row = await require_member(conn, community_id, user_id)
    if row["role"] not in ADMIN_ROLES:
        raise Problem("forbidden", "only the community's admins may do this")
    return row


async def require_owner(conn: asyncpg.Connection, community_id: int, user_id: int) -> asyncpg.Record:
    row = await require_member(conn, community_id, user_id)
    if row["role"] != "owner":
        raise Problem("forbidden", "only the community's owner may do this")
    return row


def require_not_muted(standing: asyncpg.Record) -> None:
    """`member_muted` while an admin's mute of the member (their standing or membership row) lasts: they say nothing
    others read (posts, comments, proposals, invites, collections)."""
    if standing["muted_until"] is not None and standing["muted_until"] > datetime.now(UTC):
        raise Problem("member_muted", f"muted until {standing['muted_until'].isoformat()}")


async def check_can_post(conn: asyncpg.Connection, community_id: int, user_id: int) -> asyncpg.Record:
    """For the feed: may this member post or comment now? Raises `member_muted` while an admin's mute lasts
    and `introduction_required` for a plain member who has not introduced themselves where that is asked."""
    row = await require_member(conn, community_id, user_id)
    require_not_muted(row)
    if row["introduction_required"] and row["role"] == "member" and not row["introduced"]:
        raise Problem("introduction_required", "post your self-introduction first")
    return row
