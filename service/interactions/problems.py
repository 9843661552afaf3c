"""The problem codes of the interactions domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code("batch_too_large", 413, "The event batch holds more events than the documented maximum."),
    Code("window_too_long", 400, "The metrics window is longer than 366 days or ends before it starts."),
    Code("nothing_to_allocate", 409, "No community meets the pool's thresholds with any member contribution."),
    Code(
        "reward_too_large",
        409,
        "A member's share of the pool is above what one WeChat Pay transfer carries without a real name "
        "(1,999.99 yuan): make the pool smaller or split it.",
    ),
    Code("pool_not_found", 404, "No such reward pool."),
    Code(
        "pool_window_open",
        409,
        "The pool's window has not ended yet: a pool is committed once its last local day (METRICS_TIMEZONE) is "
        "over and rolled up (a few minutes after midnight), so it pays for the whole window.",
    ),
    Code(
        "pool_rollup_pending",
        409,
        "The metrics roll-up (a job of the worker, every minute) has not yet run over the whole window: the pool is "
        "committed once it has, so it pays for the whole window. Try again in a few minutes; if this lasts, the "
        "worker is down.",
    ),
    Code("pool_not_paid", 409, "The brand's reward pool is not paid yet: pay its order first."),
    Code("pool_cancelled", 409, "The reward pool was cancelled."),
    Code("pool_committed", 409, "The reward pool is committed and paid out to members: it cannot be cancelled."),
    Code("reward_not_found", 404, "No such reward of yours."),
    Code("reward_already_paid", 409, "The reward has been paid: its transfer succeeded."),
    Code(
        "reward_below_minimum",
        409,
        "The reward, with your other owed rewards under 0.1 yuan in its community, is under 0.1 yuan, WeChat's "
        "minimum transfer: they are paid together once they reach it.",
    ),
    Code("brand_has_no_communities", 409, "The brand has no community to reward: attach one first."),
)
