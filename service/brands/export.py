"""CSV downloads of a brand for its team: UTF-8 with a BOM (Excel then opens Chinese correctly), bounded, and
recorded in `brand_exports` (who, which, how many rows)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Literal

import asyncpg
from litestar import Response

from service.brands import queries as q
from service.brands.logic import team_role

Report = Literal["members", "communities"]
MAX_ROWS = 50_000  # more is cut, and the answer says so (X-Export-Truncated)
HEADERS: dict[str, tuple[str, ...]] = {
    "members": ("社群ID", "社群", "用户ID", "昵称", "角色", "加入方式", "加入时间", "已自我介绍"),
    "communities": ("社群ID", "社群", "成员数", "人数上限", "加入方式", "阶段", "活跃度", "系列ID", "系列序号"),
}
_QUERIES = {"members": q.EXPORT_MEMBERS, "communities": q.EXPORT_COMMUNITIES}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A cell as text; one starting like a formula is quoted so a spreadsheet shows it instead of running it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) and not isinstance(value, int | float) else text


async def export(conn: asyncpg.Connection, brand_id: int, user_id: int, report: Report) -> Response[bytes]:
    async with conn.transaction():
        await team_role(conn, brand_id, user_id)
        rows = await conn.fetch(_QUERIES[report], brand_id, MAX_ROWS + 1)
        truncated = len(rows) > MAX_ROWS
        rows = rows[:MAX_ROWS]
        await conn.execute(q.INSERT_EXPORT, brand_id, user_id, report, len(rows), truncated)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS[report])
    writer.writerows([_cell(value) for value in row.values()] for row in rows)
    headers = {
        "content-disposition": f'attachment; filename="brand-{brand_id}-{report}.csv"',
        "x-export-truncated": "true" if truncated else "false",
    }
    return Response(("\ufeff" + out.getvalue()).encode(), media_type="text/csv; charset=utf-8", headers=headers)
