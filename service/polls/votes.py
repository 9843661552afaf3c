"""Votes: one per proposal, at most N per member, changes and withdrawals while voting is open.

Each vote of a member in a poll locks that member's `poll_participants` row and counts under the lock, and
reads the poll row FOR SHARE (see logic.py): the limit holds under any number of parallel requests, and no
vote commits after the poll left its voting phase.
"""

from __future__ import annotations

import asyncpg

from service.core.apps import require_app_member
from service.core.idempotency import run_once, scope_of
from service.core.interactions import record
from service.core.rows import invalid
from service.errors import Problem
from service.polls import models as m
from service.polls import queries as q
from service.polls.common import APP, audit, not_accepting_votes, poll_state, proposal_in


async def _voting_state(conn: asyncpg.Connection, poll_id: int, user_id: int) -> asyncpg.Record:
    state = await poll_state(conn, poll_id, q.POLL_STATE_SHARED)
    await require_app_member(conn, state["community_id"], user_id, APP)
    if not state["accepting_votes"]:
        raise not_accepting_votes(state)
    return state


async def _cast(conn: asyncpg.Connection, state: asyncpg.Record, user_id: int, proposal_id: int) -> asyncpg.Record:
    """Insert one vote (the caller holds the participant lock and checked the limit)."""
    poll_id = state["id"]
    first_time = not await conn.fetchval(q.EVER_VOTED, proposal_id, user_id)
    vote = await conn.fetchrow(q.INSERT_VOTE, poll_id, proposal_id, user_id)
    if vote is None:
        raise Problem("already_voted")
    await audit(conn, poll_id, user_id, "vote.cast", proposal_id=proposal_id, vote_id=vote["id"])
    # The event records the activity, once per proposal. Contribution scores do not count these events: they count the
    # votes still held when the poll closes (interactions' POLL_PARTICIPATION), so changing votes earns nothing.
    if first_time:
        await record(conn, state["community_id"], user_id, "vote")
    return vote


async def _votable(conn: asyncpg.Connection, poll_id: int, proposal_id: int) -> None:
    proposal = await proposal_in(conn, poll_id, proposal_id)
    if proposal["status"] != "visible":
        raise Problem("proposal_not_votable", f"the proposal is {proposal['status']}")


async def vote(conn: asyncpg.Connection, poll_id: int, user_id: int, proposal_id: int, key: str | None):
    async def action() -> tuple[int, m.Vote]:
        state = await _voting_state(conn, poll_id, user_id)
        await _votable(conn, poll_id, proposal_id)
        await conn.execute(q.LOCK_PARTICIPANT, poll_id, user_id)
        mine = [r["proposal_id"] for r in await conn.fetch(q.MY_ACTIVE_VOTES, poll_id, user_id)]
        if proposal_id in mine:
            raise Problem("already_voted")
        if len(mine) >= state["votes_per_member"]:
            raise Problem("vote_limit_reached", f"{state['votes_per_member']} votes per member")
        cast = await _cast(conn, state, user_id, proposal_id)
        return 201, m.Vote(
            id=str(cast["id"]),
            poll_id=str(poll_id),
            proposal_id=str(proposal_id),
            created_at=cast["created_at"],
            votes_left=state["votes_per_member"] - len(mine) - 1,
        )

    return await run_once(conn, user_id, key, scope_of("poll.vote", poll_id, proposal_id), action)


async def _withdraw(conn, state, user_id: int, proposal_ids: list[int], reason: str) -> None:
    if not state["allow_vote_changes"]:
        raise Problem("vote_changes_not_allowed")
    for withdrawn in await conn.fetch(q.WITHDRAW_MY_VOTES, state["id"], user_id, proposal_ids, reason):
        await audit(
            conn,
            state["id"],
            user_id,
            "vote.withdrawn",
            proposal_id=withdrawn["proposal_id"],
            vote_id=withdrawn["id"],
            details={"reason": reason},
        )


async def withdraw_vote(conn: asyncpg.Connection, poll_id: int, user_id: int, proposal_id: int) -> None:
    """Withdraw my vote for a proposal (allowed until the voting deadline when the poll lets votes change)."""
    async with conn.transaction():
        state = await _voting_state(conn, poll_id, user_id)
        await proposal_in(conn, poll_id, proposal_id)
        await conn.execute(q.LOCK_PARTICIPANT, poll_id, user_id)
        await _withdraw(conn, state, user_id, [proposal_id], "member")


async def set_votes(conn: asyncpg.Connection, poll_id: int, user_id: int, data: m.VoteSet) -> m.MyVotes:
    """Replace my votes with exactly these proposals, in one transaction."""
    wanted = [int(pid) for pid in data.proposal_ids]
    if len(set(wanted)) != len(wanted):
        raise invalid("proposalIds", "a proposal may appear only once")
    async with conn.transaction():
        state = await _voting_state(conn, poll_id, user_id)
        if len(wanted) > state["votes_per_member"]:
            raise Problem("vote_limit_reached", f"{state['votes_per_member']} votes per member")
        found = {r["id"]: r["status"] for r in await conn.fetch(q.PROPOSALS_FOR_VOTING, poll_id, wanted)}
        if missing := [pid for pid in wanted if pid not in found]:
            raise Problem("not_found", f"no proposal {missing[0]} in this poll")
        await conn.execute(q.LOCK_PARTICIPANT, poll_id, user_id)
        current = [r["proposal_id"] for r in await conn.fetch(q.MY_ACTIVE_VOTES, poll_id, user_id)]
        dropped = [pid for pid in current if pid not in wanted]
        added = [pid for pid in wanted if pid not in current]
        if not_votable := [pid for pid in added if found[pid] != "visible"]:
            raise Problem("proposal_not_votable", f"proposal {not_votable[0]} is {found[not_votable[0]]}")
        if dropped:
            await _withdraw(conn, state, user_id, dropped, "changed")
        for proposal_id in added:
            await _cast(conn, state, user_id, proposal_id)
        return m.MyVotes(
            voted_proposal_ids=[str(pid) for pid in wanted],
            votes_used=len(wanted),
            votes_left=state["votes_per_member"] - len(wanted),
        )
