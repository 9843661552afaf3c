"""Interactions' part of account export (core/privacy.py): reward shares. Events, presence and the daily roll-ups
stay as the community's metrics under the tombstone's id (nothing in them names the member), and so does the speech
roll-up (counts per day, and md5 keys of texts that stay themselves: posts and comments are kept); reward shares are
money, and so is a brand's reward pool its owner paid (`reward_pools.funded_by`; a brand's owner cannot be erased
while they own the brand)."""

from __future__ import annotations

from service.core.privacy import Privacy

_REWARDS = """
SELECT id::text AS id, pool_id::text AS pool_id, community_id::text AS community_id, amount_fen, status, created_at
FROM reward_allocations a WHERE user_id = $1 ORDER BY a.id  -- the number (a bare `id` is the text column above)
"""


PRIVACY = Privacy(
    exports={"rewards": _REWARDS},
    keeps=(
        "interaction_events",
        "presence_sessions",
        "rollup_contributions",
        "rollup_presence",
        "rollup_views",
        "speech_days",
        "speech_keys",
        "reward_allocations",
        "reward_pools",
    ),
)
