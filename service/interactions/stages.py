"""A community's stage and what its admins should do next (docs/growth.md, thresholds in docs/metrics.md).

One value, computed one way on one schedule: the daily job `interactions.stages` computes the metrics of the
last 30 local days (METRICS_TIMEZONE) ending today and keeps the stage with those figures in
`community_stages`. The community record, the metrics route and the stage route all read that row; none
computes a stage of its own. The advice names the actions of the stage and, for the next stage up, what is
still missing, from the same figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from service.interactions import queries as q
from service.interactions.logic import compute_metrics
from service.interactions.models import MetricValues, Stage, StageAdvice, StageGap
from service.settings import Settings

WINDOW_DAYS = 30
ORDER = ("gather", "active", "operate", "commercialise")
# The least each metric must reach, over the window, for a stage; the highest stage met wins.
THRESHOLDS = {
    "active": {"effective_speakers": 5, "valid_comments": 10},
    "operate": {"effective_speakers": 10, "valid_comments": 40, "peak_concurrent_users": 5},
    "commercialise": {
        "effective_speakers": 20,
        "valid_comments": 100,
        "peak_concurrent_users": 10,
        "new_members": 10,
    },
}
# What to do in each stage: (action, what to tell the admins).
ACTIONS = {
    "gather": (
        ("invite", "邀请新成员：分享精彩帖子或生成邀请海报，被邀请者加入后计入你的推荐"),
        ("welcome", "欢迎新成员，引导他们完成自我介绍并发第一条帖子"),
    ),
    "active": (("theme_activity", "发起一个主题打卡活动，让成员每天都有话可说"),),
    "operate": (("meetup", "组织一次线下聚会，把线上的熟人变成朋友"),),
    "commercialise": (
        ("paid_app", "启用一个付费应用"),
        ("collection", "发起一次接龙收款（团购、活动费）"),
        ("paid_entry", "开启付费入群，为社群的价值定价"),
    ),
}


def stage_of(values: MetricValues) -> str:
    for stage in reversed(ORDER[1:]):
        if all(getattr(values, name) >= least for name, least in THRESHOLDS[stage].items()):
            return stage
    return "gather"


def window_ending(settings: Settings, today: date | None = None) -> tuple[date, date]:
    end = today or datetime.now(ZoneInfo(settings.metrics_timezone)).date()
    return end - timedelta(days=WINDOW_DAYS - 1), end


async def refresh_stages(
    conn: asyncpg.Connection, settings: Settings, community_ids: Iterable[int], today: date | None = None
) -> None:
    """The daily job's work (``today`` defaults to the local date now)."""
    start, end = window_ending(settings, today)
    for community_id in community_ids:
        _, total, _ = await compute_metrics(conn, settings, community_id, start, end, "month")
        totals = msgspec.json.encode(total).decode()
        await conn.execute(q.SET_STAGE, community_id, stage_of(total), totals, start, end, total.activity_score)


async def current_stage(conn: asyncpg.Connection, community_id: int) -> str:
    return await conn.fetchval(q.STAGE, community_id) or "gather"


async def stage(conn: asyncpg.Connection, community_id: int) -> Stage:
    row = await conn.fetchrow(q.STAGE, community_id)
    figures = msgspec.json.decode(row["totals"]) if row["totals"] else {}
    values = msgspec.convert(figures, MetricValues) if figures else None
    name = row["stage"]
    following = ORDER[ORDER.index(name) + 1] if name != ORDER[-1] else None
    gaps = []
    if following is not None:
        for metric, least in THRESHOLDS[following].items():
            have = getattr(values, metric) if values else 0
            if have < least:
                gaps.append(StageGap(metric=_camel(metric), have=have, need=least))
    return Stage(
        community_id=str(community_id),
        stage=name,
        previous_stage=row["previous_stage"],
        changed_at=row["changed_at"],
        computed_at=row["computed_at"],
        start=row["window_from"],
        end=row["window_to"],
        totals=values,
        advice=[StageAdvice(action=action, text=text) for action, text in ACTIONS[name]],
        next_stage=following,
        missing=gaps,
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
