"""The feed's goals against the bare one-query limit, measured in alternation with it.

On these shared 2-core machines a server's req/s drifts by 10-30 % within a minute with nothing else running (the
bare limit alone, 8 s runs back to back: 6,600-9,100 req/s; benchmarks/RESULTS.md). The main table measures the bare
limit once, first, and the feed minutes later: two moments, not two servers. Here both servers run side by side
(the idle one costs nothing) and each round measures the bare limit and the feed scenarios one after the other, in
turn first and last; a goal's ratio is the median of the rounds' ratios.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable

from benchmarks.processes import stop
from benchmarks.scenarios import BASELINE, Request

ROUNDS = 5


def against_bare(
    start_server: Callable,
    run_wrk: Callable,
    dsn: str,
    requests: dict[str, Request],
    names: list[str],
    env: dict[str, str],
    label: str,
    goal: str,
    seconds: int,
    connections: int,
) -> list[tuple[str, str, str, float, str]]:
    """Comparison rows (measurement, figure, same-run baseline, ratio, goal): each scenario of `names` on the app
    started with `env`, against the bare limit, alternated over ROUNDS rounds of `seconds` each."""
    bare, bare_url = start_server("bare", dsn, {})
    try:
        app, app_url = start_server("granian", dsn, env)
        try:
            runs = {"bare": (bare_url, requests[BASELINE.name])} | {name: (app_url, requests[name]) for name in names}
            for url, request in runs.values():  # warm-up
                run_wrk(url, request, 2, connections)
            rps: dict[str, list[float]] = {name: [] for name in runs}
            for turn in range(ROUNDS):
                order = list(runs) if turn % 2 == 0 else [*names, "bare"]
                for name in order:
                    url, request = runs[name]
                    rps[name].append(run_wrk(url, request, seconds, connections)["rps"])
            print(f"  alternated with bare ({label}): {rps}", file=sys.stderr, flush=True)
        finally:
            stop(app)
    finally:
        stop(bare)
    rows = []
    for name in names:
        ratios = [mine / limit for mine, limit in zip(rps[name], rps["bare"], strict=True)]
        rows.append(
            (
                f"{name} {label}, of the bare limit, alternated ({ROUNDS} rounds of {seconds} s)",
                f"{statistics.median(rps[name]):,.0f} req/s",
                f"{statistics.median(rps['bare']):,.0f} req/s (bare); rounds {min(ratios):.2f}-{max(ratios):.2f}",
                statistics.median(ratios),
                goal,
            )
        )
    return rows
