"""Sister communities: where an admission to a community of a series really goes (docs/brands.md).

A full community of a series sends the newcomer to the next sister with room, and when every sister is full a
new one is opened from the series' template: numbered name, same settings, the template's robots. One plain
membership per series at a time. Callers hold the series' lock (`lock`) before any community's lock, so the choice
of the sister, the one-membership rule and the opening of a sister are serialised per series.
"""

from __future__ import annotations

import asyncpg

from service.communities import queries as q
from service.communities import series_queries as sq
from service.communities.models import NAME_MAX
from service.core import hooks
from service.errors import Problem


async def lock(conn: asyncpg.Connection, community_id: int) -> asyncpg.Record | None:
    """The community's series, locked for the transaction; None outside a series."""
    return await conn.fetchrow(sq.LOCK_SERIES_OF, community_id)


async def check_request(conn: asyncpg.Connection, community_id: int, user_id: int) -> None:
    """Before a join request: a plain member of a sister asks for a second membership of the series, refused with
    ``already_in_series`` as a join is (it would wait for an approval that can only answer that). Call it before
    the community's own key-share lock: the series' lock comes before any community's, as in an admission."""
    series = await conn.fetchval(sq.KEY_SHARE_SERIES_OF, community_id)
    if series is None:
        return
    home = await conn.fetchval(sq.SERIES_HOME, series, user_id)
    if home is not None and home != community_id:
        raise Problem("already_in_series", f"already a member of the sister community {home}")


async def settle_requests(conn: asyncpg.Connection, series: asyncpg.Record, user_id: int) -> None:
    """On an admission to the series (its lock held): the newcomer's pending requests to every sister are
    cancelled, not only the one to the community they were placed in. An invite to a full sister admits to
    another; the request to the first could then only answer already_in_series, or be rejected in a notice to a
    member of the series."""
    sisters = await conn.fetchval(sq.SERIES_COMMUNITIES, series["id"])
    await conn.execute(sq.CANCEL_PENDING_REQUESTS_AMONG, sisters, user_id)


async def check_room(conn: asyncpg.Connection, community: asyncpg.Record) -> None:
    """The advisory cap check (no lock) before a join request or an entry order; a series always has room."""
    full = community["member_count"] >= community["member_cap"]
    if full and await conn.fetchval(sq.SERIES_OF, int(community["id"])) is None:
        raise Problem("community_full", f"all {community['member_cap']} places are taken")


async def place(conn: asyncpg.Connection, series: asyncpg.Record, community_id: int, user_id: int) -> int:
    """The community of the series to admit ``user_id`` to (the series is locked by the caller)."""
    home = await conn.fetchval(sq.SERIES_HOME, series["id"], user_id)
    if home is not None and home != community_id:
        raise Problem("already_in_series", f"already a member of the sister community {home}")
    mine = await conn.fetchrow(q.MEMBERSHIP, community_id, user_id)
    if home is not None or (mine is not None and mine["status"] in ("active", "removed")):
        return community_id  # admit() answers already_member or member_removed for the community asked
    sister = await conn.fetchval(sq.SISTER_WITH_ROOM, series["id"], community_id, user_id)
    return sister if sister is not None else await _open_sister(conn, series)


async def check_demotion(conn: asyncpg.Connection, series: asyncpg.Record, community_id: int, user_id: int) -> None:
    """Staff may hold roles in several sisters, so an admin here may be a plain member of another: made a plain
    member here too, they would be one of two (the caller holds the series lock, as an admission does)."""
    home = await conn.fetchval(sq.SERIES_HOME, series["id"], user_id)
    if home is not None and home != community_id:
        raise Problem("already_in_series", f"a plain member of the sister community {home}: they leave it first")


async def _open_sister(conn: asyncpg.Connection, series: asyncpg.Record) -> int:
    number = await conn.fetchval(sq.NEXT_SISTER_NUMBER, series["id"])
    # `<name> <n>群`, the name cut so that the number fits a community's name (a series name of 36 characters
    # leaves room up to sister 99 only).
    suffix = f" {number}群"
    name = series["name"][: NAME_MAX - len(suffix)].rstrip() + suffix
    row = await conn.fetchrow(sq.OPEN_SISTER, series["template_id"], name, number)
    await conn.execute(q.INSERT_OWNER, row["id"], row["owner_id"])
    details = {"seriesId": str(series["id"]), "templateId": str(series["template_id"]), "number": number}
    await conn.execute(q.INSERT_AUDIT, row["id"], None, "community.opened", None, details)
    opened = hooks.CommunityOpened(row["id"], row["owner_id"], source_id=series["template_id"])
    await hooks.community_opened(conn, opened)
    return row["id"]
