"""Interaction recording, for every domain: a member's action is one row of `interaction_events`, written in
the same transaction as the action itself (the metrics and rewards of the interactions domain read them)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

# Actions other domains record in the same transaction as the action itself.
SERVER_KINDS = frozenset(
    {
        "post",
        "comment",
        "like",
        "share",
        "introduction",
        "proposal",
        "vote",
        "feedback",
        "join",
        "leave",
        "check_in",
        "attendance",
    }
)

INSERT_EVENT = """
INSERT INTO interaction_events (community_id, user_id, kind, post_id, target, occurred_at, comment_id)
VALUES ($1, $2, $3, $4, $5, coalesce($6, now()), $7)
"""


async def record(
    conn: asyncpg.Connection,
    community_id: int,
    user_id: int,
    kind: str,
    *,
    post_id: int | None = None,
    occurred_at: datetime | None = None,
    comment_id: int | None = None,
) -> None:
    """Record a member's action. Call it inside the transaction that performs the action. A `comment` names its
    comment: the metrics skip one removed or refused later."""
    if kind not in SERVER_KINDS:
        raise ValueError(f"unknown interaction kind {kind!r}")
    target = f"post:{post_id}" if post_id is not None else None
    await conn.execute(INSERT_EVENT, community_id, user_id, kind, post_id, target, occurred_at, comment_id)
