"""Interactions' part of account export (core/privacy.py): reward shares. Events, presence and the daily roll-ups
stay as the community's metrics under the tombstone's id (nothing in them names the member); reward shares are
money."""

from __future__ import annotations

from service.core.privacy import Privacy

_REWARDS = """
SELECT id::text AS id, pool_id::text AS pool_id, community_id::text AS community_id, amount_fen, status, created_at
FROM reward_allocations WHERE user_id = $1 ORDER BY id
"""


PRIVACY = Privacy(
    exports={"rewards": _REWARDS},
    keeps=(
        "interaction_events",
        "presence_sessions",
        "rollup_contributions",
        "rollup_presence",
        "rollup_views",
        "reward_allocations",
    ),
)
