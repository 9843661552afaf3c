"""The rules of brands: who is on a brand's team, what attached communities inherit, series (docs/brands.md).

The team acts as admins in the brand's communities through the shared access check (service/core/access.py);
this domain only keeps the team, the defaults and the series. Joining a series is the communities domain's
(series.py there): it reads the series rows kept here.
"""

from __future__ import annotations

import re

import asyncpg
import msgspec
from litestar import Response

from service.brands import models as m
from service.brands import queries as q
from service.core import hooks, live, presence
from service.core.access import brand_role, require_owner
from service.core.content import require_pass
from service.core.idempotency import replay, run_once, scope_of
from service.core.rows import from_row, invalid
from service.errors import Problem
from service.wechat.client import WeChatClient

PAGE_COMMUNITIES = 500  # the brand page lists this many communities at most
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


async def team_role(conn: asyncpg.Connection, brand_id: int, user_id: int) -> str:
    """The caller's role on the brand's team; `not_found` for no brand, `forbidden` off the team."""
    return await brand_role(conn, brand_id, user_id)


async def _require_brand_owner(conn: asyncpg.Connection, brand_id: int, user_id: int) -> None:
    """Under the brand row's lock (the caller's transaction): a change to the team waits for an ownership transfer
    in flight, and sees the owner it left, rather than changing a row the transfer has read meanwhile."""
    await conn.execute(q.LOCK_BRAND, brand_id)
    if await team_role(conn, brand_id, user_id) != "owner":
        raise Problem("forbidden", "only the brand's owner may change its team or hand it over")


async def _check_defaults(
    pool: asyncpg.Pool, wechat: WeChatClient, user_id: int, data: m.BrandDefaults, *texts: str
) -> None:
    """Robots post the defaults under their name, and attached communities show them: placeholders are known, the
    replies, the greeting and the introduction prompt (with ``texts``, the brand's own) pass WeChat's check
    outright, the texts in one call, each reply in its own (a reply refused is named by its keyword)."""
    unknown = {name for name in _PLACEHOLDER.findall(data.welcome_template or "")} - {"nickname", "community"}
    if unknown:
        raise invalid("defaults.welcomeTemplate", "use only the placeholders {nickname} and {community}")
    if data.welcome_template is not None and not data.welcome_template.strip():
        raise invalid("defaults.welcomeTemplate", "must not be blank")
    for rule in data.robot_rules:
        if not rule.keyword.strip():
            raise invalid("defaults.robotRules.keyword", "must not be blank")
    shown = "\n".join(t for t in (*texts, data.welcome_template, data.introduction_prompt) if t and t.strip())
    if not shown and not data.robot_rules:
        return
    openid = await pool.fetchval(q.USER_OPENID, user_id) or ""
    if shown:
        await require_pass(wechat, openid, shown, "the brand's texts")
    for rule in data.robot_rules:
        await require_pass(wechat, openid, rule.reply, f"the default reply to {rule.keyword.strip()!r}")


def _defaults_args(data: m.BrandDefaults) -> list:
    rules = [
        {"keyword": r.keyword.strip(), "matchMode": r.match_mode, "reply": r.reply.strip()} for r in data.robot_rules
    ]
    return [data.welcome_template, data.introduction_required, data.introduction_prompt, rules, data.points_spendable]


async def _brand(conn: asyncpg.Connection, brand_id: int) -> m.Brand:
    row = await conn.fetchrow(q.BRAND, brand_id)
    defaults = m.BrandDefaults(
        welcome_template=row["welcome_template"],
        introduction_required=row["introduction_required"],
        introduction_prompt=row["introduction_prompt"],
        robot_rules=msgspec.convert(row["robot_rules"], list[m.RuleDefault]),
        points_spendable=row["points_spendable"],
    )
    team = [from_row(m.TeamMember, r) for r in await conn.fetch(q.TEAM, brand_id)]
    communities = [from_row(m.BrandCommunity, r) for r in await conn.fetch(q.COMMUNITIES, brand_id, PAGE_COMMUNITIES)]
    return from_row(m.Brand, row, defaults=defaults, team=team, communities=communities)


async def create_brand(
    pool: asyncpg.Pool, wechat: WeChatClient, user_id: int, data: m.BrandCreate, key: str | None
) -> Response[bytes]:
    scope = scope_of("brand.create", msgspec.to_builtins(data))
    async with pool.acquire() as conn:
        if (replayed := await replay(conn, user_id, key, scope)) is not None:
            return replayed  # a retry answers what the first created, without asking WeChat again
    name = data.name.strip()
    if not name:
        raise invalid("name", "must not be blank")
    await _check_defaults(pool, wechat, user_id, data.defaults, name, data.description)

    async def action() -> tuple[int, m.Brand]:
        args = _defaults_args(data.defaults)
        brand_id = await conn.fetchval(q.INSERT_BRAND, user_id, name, data.description.strip(), *args)
        await conn.execute(q.INSERT_TEAM_MEMBER, brand_id, user_id, "owner", user_id)
        return 201, await _brand(conn, brand_id)

    async with pool.acquire() as conn:
        return await run_once(conn, user_id, key, scope, action)


async def get_brand(conn: asyncpg.Connection, brand_id: int, user_id: int) -> m.Brand:
    await team_role(conn, brand_id, user_id)
    return await _brand(conn, brand_id)


async def update_defaults(
    pool: asyncpg.Pool, wechat: WeChatClient, brand_id: int, user_id: int, data: m.BrandDefaults
) -> m.Brand:
    """Replace the defaults (the brand's team); communities attached later inherit the new ones."""
    async with pool.acquire() as conn:
        await team_role(conn, brand_id, user_id)
    await _check_defaults(pool, wechat, user_id, data)
    async with pool.acquire() as conn, conn.transaction():
        await team_role(conn, brand_id, user_id)
        await conn.execute(q.UPDATE_DEFAULTS, brand_id, *_defaults_args(data))
        return await _brand(conn, brand_id)


async def add_admin(conn: asyncpg.Connection, brand_id: int, owner_id: int, user_id: int) -> m.Brand:
    """The brand's owner adds an admin; adding one again answers the same."""
    async with conn.transaction():
        await _require_brand_owner(conn, brand_id, owner_id)
        if not await conn.fetchval(q.USER_EXISTS, user_id):
            raise Problem("not_found", "no such user")
        await conn.execute(q.INSERT_TEAM_MEMBER, brand_id, user_id, "admin", owner_id)
        return await _brand(conn, brand_id)


async def remove_admin(conn: asyncpg.Connection, brand_id: int, owner_id: int, user_id: int) -> None:
    """The owner removes an admin (their admin rights in every community of the brand end at once)."""
    async with conn.transaction():
        await _require_brand_owner(conn, brand_id, owner_id)
        if user_id == owner_id:
            raise Problem("forbidden", "the brand's owner stays on its team")
        if await conn.execute(q.DELETE_ADMIN, brand_id, user_id) == "DELETE 1":
            # A socket viewing one of them would hear its events until the memberships refresh (25 s).
            for row in await conn.fetch(q.STOOD_AS_TEAM, brand_id, user_id):
                await live.departed(conn, user_id, row["id"])
                await presence.end(conn, user_id, row["id"])  # no longer online there either


async def transfer(
    conn: asyncpg.Connection, brand_id: int, owner_id: int, data: m.BrandTransfer, key: str | None
) -> Response[bytes]:
    """The owner hands the brand to one of its admins and stays on as an admin (so they may then delete their
    account: docs/brands.md). Naming oneself changes nothing."""
    new_owner_id = int(data.user_id)

    async def action() -> tuple[int, m.Brand]:
        await _require_brand_owner(conn, brand_id, owner_id)  # locks the brand: the team stays as read
        if new_owner_id != owner_id:
            if await conn.fetchval(q.TEAM_ROLE_OF, brand_id, new_owner_id) != "admin":
                raise Problem("not_found", "no such admin of this brand")
            await conn.execute(q.SET_TEAM_ROLE, brand_id, owner_id, "admin")
            await conn.execute(q.SET_TEAM_ROLE, brand_id, new_owner_id, "owner")
            await conn.execute(q.SET_BRAND_OWNER, brand_id, new_owner_id)
        return 200, await _brand(conn, brand_id)

    return await run_once(conn, owner_id, key, scope_of("brand.transfer", brand_id, new_owner_id), action)


async def attach(conn: asyncpg.Connection, brand_id: int, user_id: int, data: m.AttachCommunity) -> m.Brand:
    """The owner of a community, on the brand's team, puts it in the brand; it inherits the brand's defaults."""
    community_id = int(data.community_id)
    async with conn.transaction():
        await team_role(conn, brand_id, user_id)
        await require_owner(conn, community_id, user_id)
        current = await conn.fetchrow(q.COMMUNITY_BRAND, community_id)
        if current["brand_id"] == brand_id:
            return await _brand(conn, brand_id)
        if current["brand_id"] is not None:
            raise Problem("community_in_brand", "the community belongs to another brand")
        await conn.execute(q.ATTACH, community_id, brand_id, data.inherit_defaults)
        details = {"brandId": str(brand_id), "inheritDefaults": data.inherit_defaults}
        await conn.execute(q.INSERT_AUDIT, community_id, user_id, "community.branded", None, details)
        rules = (await conn.fetchrow(q.BRAND, brand_id))["robot_rules"] if data.inherit_defaults else []
        if rules:
            await hooks.community_opened(conn, hooks.CommunityOpened(community_id, user_id, robot_rules=tuple(rules)))
        return await _brand(conn, brand_id)


async def create_series(
    conn: asyncpg.Connection, brand_id: int, user_id: int, data: m.SeriesCreate, key: str | None
) -> Response[bytes]:
    """A community of the brand becomes the first sister and the template of a series (the brand's team)."""
    community_id = int(data.community_id)
    name = data.name.strip()
    if not name:
        raise invalid("name", "must not be blank")

    async def action() -> tuple[int, m.Series]:
        await team_role(conn, brand_id, user_id)
        current = await conn.fetchrow(q.COMMUNITY_BRAND, community_id)
        if current is None or current["brand_id"] != brand_id:
            raise Problem("not_found", "no such community in this brand")
        if current["series_id"] is not None:
            raise Problem("community_in_series", "the community already belongs to a series")
        series_id = await conn.fetchval(q.INSERT_SERIES, brand_id, name, community_id, user_id)
        await conn.execute(q.JOIN_SERIES, community_id, series_id)
        await conn.execute(
            q.INSERT_AUDIT, community_id, user_id, "community.series", None, {"seriesId": str(series_id)}
        )
        return 201, await _series(conn, series_id, user_id)

    scope = scope_of("brand.series", brand_id, msgspec.to_builtins(data))
    return await run_once(conn, user_id, key, scope, action)


async def _series(conn: asyncpg.Connection, series_id: int, user_id: int) -> m.Series:
    row = await conn.fetchrow(q.SERIES, series_id)
    if row is None:
        raise Problem("not_found", "no such series")
    sisters = [from_row(m.Sister, r) for r in await conn.fetch(q.SISTERS, series_id)]
    mine = await conn.fetchval(q.MY_SISTER, series_id, user_id)
    return from_row(m.Series, row, sisters=sisters, my_community_id=mine)


async def get_series(conn: asyncpg.Connection, series_id: int, user_id: int) -> m.Series:
    """Any signed-in user: the sisters with their room, and mine."""
    return await _series(conn, series_id, user_id)
