"""Interactions' CSV reports (core/exports.py): metrics by day and reward allocations of the communities asked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import asyncpg

from service.core.exports import Report, Scope
from service.interactions.logic import compute_metrics
from service.interactions.models import MetricValues
from service.settings import Settings

_FIELDS = tuple(MetricValues.__struct_fields__)
_ZERO = MetricValues(**dict.fromkeys(_FIELDS, 0))


async def _metric_rows(conn: asyncpg.Connection, settings: Settings, scope: Scope) -> AsyncIterator[Sequence[Any]]:
    """Every local day of the window for each community, in order (a day without activity: zeros), computed as
    GET .../metrics computes them (docs/metrics.md), one community at a time."""
    names = dict(await conn.fetch("SELECT id, name FROM communities WHERE id = ANY($1::bigint[])", scope.community_ids))
    days = (scope.end - scope.start).days + 1
    for community_id in sorted(scope.community_ids):
        periods, _, _ = await compute_metrics(conn, settings, community_id, scope.start, scope.end, "day")
        by_day = dict(periods)
        for n in range(days):
            day = scope.start + timedelta(days=n)
            values = by_day.get(day, _ZERO)
            yield (day, community_id, names.get(community_id), *(getattr(values, f) for f in _FIELDS))


async def _metric_count(conn: asyncpg.Connection, settings: Settings, scope: Scope, limit: int) -> int:
    return len(scope.community_ids) * ((scope.end - scope.start).days + 1)


METRICS = Report(
    "metrics",
    (
        "日期",
        "社群ID",
        "社群",
        "发言人数",
        "有效发言人数",
        "有效帖子数",
        "有效评论数",
        "浏览人数",
        "人均浏览帖子数",
        "浏览量",
        "有效浏览量",
        "在线人数",
        "人均在线秒数",
        "同时在线峰值",
        "新成员数",
        "活跃度",
    ),
    rows=_metric_rows,
    count=_metric_count,
)

# Members' shares of committed pools (the operator's and brands'), committed in the window.
_REWARDS = """
SELECT a.pool_id::text, CASE WHEN p.brand_id IS NULL THEN '平台' ELSE '品牌' END, p.brand_id::text,
       a.community_id::text, a.user_id::text, u.nickname, a.basis, a.amount_fen,
       CASE a.status WHEN 'paid' THEN '已发放' ELSE '待发放' END, a.transfer_id::text, a.created_at
FROM reward_allocations a
JOIN reward_pools p ON p.id = a.pool_id
LEFT JOIN users u ON u.id = a.user_id
WHERE a.community_id = ANY($1::bigint[]) AND a.user_id IS NOT NULL AND a.created_at >= $2 AND a.created_at < $3
ORDER BY a.created_at, a.pool_id, a.community_id, a.user_id
LIMIT $4
"""

REWARDS = Report(
    "rewards",
    (
        "奖励池ID",
        "出资方",
        "品牌ID",
        "社群ID",
        "用户ID",
        "昵称",
        "贡献分",
        "金额（分）",
        "发放状态",
        "转账ID",
        "分配时间",
    ),
    sql=_REWARDS,
)
