"""What the rules of naming polls share: the app, a poll's state and audit record, paging, and how proposals
and votes run side by side with phase changes.

Concurrency, in one place:
- Proposals and votes read the poll row FOR SHARE; a phase change (the deadline job, an admin) takes it FOR
  UPDATE. So members act in parallel, and a phase change waits for the proposals and votes in flight: none
  commits after the phase it belonged to ended.
- Each member's proposals and votes in a poll queue on their `poll_participants` row (FOR UPDATE), and the
  limits are counted under that lock: 50 parallel votes of one member still give at most N votes.
- One counted vote per member and proposal is also a unique index; duplicate names are a unique constraint
  on the normalised name (naming.py), so even two members proposing the same name at once get one proposal.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from service.core.rows import lock_in_community
from service.errors import Problem
from service.polls import queries as q

# The community app these routes belong to. Trials already granted stay claimable and shippable when the
# app is switched off: they are promises made to members.
APP = "polls"
POLL_NOT_ACCEPTING_PROPOSALS = "poll_not_accepting_proposals"
POLL_NOT_ACCEPTING_VOTES = "poll_not_accepting_votes"


async def audit(
    conn: asyncpg.Connection,
    poll_id: int,
    actor_id: int | None,
    action: str,
    *,
    proposal_id: int | None = None,
    vote_id: int | None = None,
    subject_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(q.INSERT_AUDIT, poll_id, actor_id, action, proposal_id, vote_id, subject_id, details or {})


async def poll_state(conn: asyncpg.Connection, poll_id: int, lock: str | None = None) -> asyncpg.Record:
    """The poll's state: unlocked, or locked by `lock` (POLL_STATE_SHARED, POLL_STATE_LOCKED) in its community."""
    if lock is None:
        row = await conn.fetchrow(q.POLL_STATE, poll_id)
    else:
        row = await lock_in_community(conn, q.POLL_COMMUNITY, lock, poll_id)
    if row is None:
        raise Problem("not_found", "no such poll")
    return row


def not_accepting_votes(state: asyncpg.Record) -> Problem:
    if state["status"] == "proposing":
        detail = f"voting opens at {state['proposals_close_at'].isoformat()}"
    elif state["status"] == "voting":
        detail = f"the voting deadline passed at {state['voting_close_at'].isoformat()}"
    else:
        detail = "the poll is closed"
    return Problem(POLL_NOT_ACCEPTING_VOTES, detail)


async def proposal_in(conn: asyncpg.Connection, poll_id: int, proposal_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(q.PROPOSAL, proposal_id, poll_id)
    if row is None:
        raise Problem("not_found", f"no proposal {proposal_id} in this poll")
    return row
