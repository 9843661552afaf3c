"""CSV reports for brand and community admins (docs/brands.md, "CSV export"): the one writer, the bounds, and the
registry of reports the domains declare (`Domain.reports`), as for payment purposes. The routes (brands domain)
check who asks and record the download; each report's rows come from the domain that owns them.

A file is UTF-8 with a byte-order mark (Excel then opens the Chinese correctly), CRLF lines, Chinese column
headers. It is streamed: the rows are read with a server-side cursor (SQL reports) or community by community
(metrics) and written in batches as they come, never held whole. It is bounded: a window of at most 366 days
and at most MAX_ROWS rows, counted before the first byte is sent, so a request over the bound gets a clear 4xx
instead of a cut file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from service.errors import Problem
from service.settings import Settings

MAX_ROWS = 50_000
MAX_DAYS = 366
BATCH = 500  # rows per write, and the cursor's prefetch
BOM = "\ufeff"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Scope:
    """What a download covers: communities (one, or a brand's) and, for windowed reports, local days."""

    community_ids: list[int]
    start: date
    end: date


Rows = Callable[[asyncpg.Connection, Settings, Scope], AsyncIterator[Sequence[Any]]]
Count = Callable[[asyncpg.Connection, Settings, Scope, int], Awaitable[int]]


@dataclass(frozen=True)
class Report:
    """A report: `sql` (one CSV cell per column) or `rows` with its `count`. `windowed`: the window filters its
    rows, and its `sql` takes $1 community ids, $2 and $3 the window's start and end (timestamps, end excluded:
    local days in METRICS_TIMEZONE), $4 the row limit; else it is a picture of now: $1 ids, $2 the limit."""

    name: str
    columns: tuple[str, ...]
    sql: str | None = None
    rows: Rows | None = None
    count: Count | None = None
    windowed: bool = True


_reports: dict[str, Report] = {}


def install_reports(reports: Sequence[Report]) -> None:
    table: dict[str, Report] = {}
    for report in reports:
        if report.name in table:
            raise ValueError(f"export report {report.name!r} is declared twice")
        table[report.name] = report
    _reports.clear()
    _reports.update(table)


def get_report(name: str) -> Report:
    report = _reports.get(name)
    if report is None:
        raise Problem("validation_failed", f"no report {name!r}")
    return report


def cell(value: Any) -> str:
    """A cell as text; one starting like a formula is quoted so a spreadsheet shows it instead of running it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) and not isinstance(value, int | float) else text


def lines(rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([cell(value) for value in row] for row in rows)
    return out.getvalue()


def check_window(report: Report, scope: Scope) -> None:
    if report.windowed and not 0 <= (scope.end - scope.start).days < MAX_DAYS:
        raise Problem("export_window_too_long", f"from..to must be 1 to {MAX_DAYS} days, in order")


def _args(settings: Settings, report: Report, scope: Scope, limit: int) -> tuple[Any, ...]:
    if not report.windowed:
        return (scope.community_ids, limit)
    zone = ZoneInfo(settings.metrics_timezone)
    start = datetime.combine(scope.start, time(), zone)
    end = datetime.combine(scope.end + timedelta(days=1), time(), zone)
    return (scope.community_ids, start, end, limit)


async def count(conn: asyncpg.Connection, settings: Settings, report: Report, scope: Scope) -> int:
    """How many rows the file will have (up to MAX_ROWS + 1); `export_too_large` over the bound."""
    check_window(report, scope)
    if report.sql is not None:
        counted = f"SELECT count(*) FROM ({report.sql}) AS report"  # noqa: S608 - a declared report's own SQL
        rows = await conn.fetchval(counted, *_args(settings, report, scope, MAX_ROWS + 1))
    else:
        assert report.count is not None
        rows = await report.count(conn, settings, scope, MAX_ROWS + 1)
    if rows > MAX_ROWS:
        raise Problem("export_too_large", f"more than {MAX_ROWS} rows: narrow the window (from, to)")
    return rows


async def _rows(conn: asyncpg.Connection, settings: Settings, report: Report, scope: Scope) -> AsyncIterator[Any]:
    if report.sql is not None:
        args = _args(settings, report, scope, MAX_ROWS)
        async for row in conn.cursor(report.sql, *args, prefetch=BATCH):
            yield row.values()
    else:
        assert report.rows is not None
        async for row in report.rows(conn, settings, scope):
            yield row


async def stream(pool: asyncpg.Pool, settings: Settings, report: Report, scope: Scope) -> AsyncIterator[bytes]:
    """The file, batch by batch: the BOM and headers first, then the rows from a read-only snapshot."""
    yield (BOM + lines([report.columns])).encode()
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        batch: list[Sequence[Any]] = []
        async for row in _rows(conn, settings, report, scope):
            batch.append(row)
            if len(batch) >= BATCH:
                yield lines(batch).encode()
                batch = []
        if batch:
            yield lines(batch).encode()
