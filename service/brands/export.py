"""CSV downloads for a brand's team and a community's admins (core/exports.py writes, bounds and streams them):
members, the communities' figures (this domain's reports), orders and refunds (checkout's), metrics by day and
reward allocations (interactions'). Each download is recorded before its first byte: a brand's in
`brand_exports`, a community's in its audit log (`export.csv`), with who, which report, the window and the rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import asyncpg
from litestar.response import Stream

from service.brands import queries as q
from service.brands.logic import team_role
from service.core import exports
from service.core.access import require_admin
from service.core.days import FIRST_DAY, check_days
from service.settings import Settings

ReportName = Literal["members", "communities", "orders", "rewards", "metrics"]
DEFAULT_DAYS = 30  # the window when from/to are not given: the last 30 local days

MEMBERS = exports.Report(
    "members",
    ("社群ID", "社群", "用户ID", "昵称", "角色", "加入方式", "加入时间", "已自我介绍"),
    sql=q.EXPORT_MEMBERS,
    windowed=False,
)
COMMUNITIES = exports.Report(
    "communities",
    ("社群ID", "社群", "成员数", "人数上限", "加入方式", "阶段", "活跃度", "系列ID", "系列序号"),
    sql=q.EXPORT_COMMUNITIES,
    windowed=False,
)
REPORTS = [MEMBERS, COMMUNITIES]


def _window(settings: Settings, start: date | None, end: date | None) -> tuple[date, date]:
    check_days({"from": start, "to": end})  # before any arithmetic: year 1 or 9999 overflows (a 500)
    today = datetime.now(ZoneInfo(settings.metrics_timezone)).date()
    end = end or today
    # The default's first day is no earlier than the first day there is: a `to` in the first days of 2000 alone
    # made a window starting in 1999, refused only by the metrics report once the file had begun (a cut download).
    return start or max(end - timedelta(days=DEFAULT_DAYS - 1), FIRST_DAY), end


def _stream(pool: asyncpg.Pool, settings: Settings, report: exports.Report, scope: exports.Scope, name: str) -> Stream:
    headers = {"content-disposition": f'attachment; filename="{name}.csv"', "x-export-truncated": "false"}
    return Stream(exports.stream(pool, settings, report, scope), media_type="text/csv; charset=utf-8", headers=headers)


async def brand_export(
    pool: asyncpg.Pool,
    settings: Settings,
    brand_id: int,
    user_id: int,
    name: ReportName,
    start: date | None,
    end: date | None,
) -> Stream:
    """The brand's team: a report over every community of the brand."""
    report = exports.get_report(name)
    start, end = _window(settings, start, end)
    async with pool.acquire() as conn, conn.transaction():
        await team_role(conn, brand_id, user_id)
        scope = exports.Scope(await conn.fetchval(q.BRAND_COMMUNITY_IDS, brand_id), start, end)
        rows = await exports.count(conn, settings, report, scope)
        window = (start, end) if report.windowed else (None, None)
        await conn.execute(q.INSERT_EXPORT, brand_id, user_id, name, rows, *window)
    return _stream(pool, settings, report, scope, f"brand-{brand_id}-{name}")


async def community_export(
    pool: asyncpg.Pool,
    settings: Settings,
    community_id: int,
    user_id: int,
    name: ReportName,
    start: date | None,
    end: date | None,
) -> Stream:
    """A community's admins (the brand's team among them): a report over that community only."""
    report = exports.get_report(name)
    start, end = _window(settings, start, end)
    scope = exports.Scope([community_id], start, end)
    async with pool.acquire() as conn, conn.transaction():
        await require_admin(conn, community_id, user_id)
        rows = await exports.count(conn, settings, report, scope)
        details = {"report": name, "rows": rows}
        if report.windowed:
            details |= {"from": start.isoformat(), "to": end.isoformat()}
        await conn.execute(q.INSERT_AUDIT, community_id, user_id, "export.csv", None, details)
    return _stream(pool, settings, report, scope, f"community-{community_id}-{name}")
