"""Phase changes, the final tally, the free-trial rules and the published result of a poll.

A poll moves proposing -> voting -> closed. The deadline jobs and an admin's hand call the same functions,
each under the poll row's lock and each a no-op when the poll is already past that phase, so a job that runs
twice, late, or after an admin acted changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from litestar import Response

from service.core.apps import require_app_member
from service.core.idempotency import run_once, scope_of
from service.core.inbox import Item, deliver
from service.core.rows import lock_in_community
from service.errors import Problem
from service.jobs import enqueue
from service.polls import draw
from service.polls import models as m
from service.polls import queries as q
from service.polls.common import APP, audit, poll_state
from service.polls.logic import read_poll


@dataclass(frozen=True)
class Ranked:
    proposal_id: int
    proposer_id: int
    name: str
    votes: int
    created_at: datetime
    rank: int = 0


def rank(proposals: list[Ranked]) -> list[Ranked]:
    """The final ranking, ranks 1..n without ties: more votes first, then the earlier proposal, then the
    lower id (m.TIE_BREAK_RULE)."""
    ordered = sorted(proposals, key=lambda p: (-p.votes, p.created_at, p.proposal_id))
    return [
        Ranked(p.proposal_id, p.proposer_id, p.name, p.votes, p.created_at, rank=i)
        for i, p in enumerate(ordered, start=1)
    ]


def proposer_awards(
    ranking: list[Ranked], members: set[int], winning_proposer: bool, top_proposers: int
) -> list[tuple[int, str, int]]:
    """(user id, reason, proposal rank) for the proposer rules. Only proposals with votes count, only
    active members qualify, and nobody qualifies twice:
    - winning proposer: the proposer of the rank-1 proposal;
    - top K proposers: walking down the ranking, the next K distinct proposers not yet qualified."""
    counted = [p for p in ranking if p.votes > 0]
    awards: list[tuple[int, str, int]] = []
    taken: set[int] = set()
    if winning_proposer and counted and counted[0].proposer_id in members:
        awards.append((counted[0].proposer_id, "winner", counted[0].rank))
        taken.add(counted[0].proposer_id)
    top = 0
    for proposal in counted:
        if top >= top_proposers:
            break
        if proposal.proposer_id in taken or proposal.proposer_id not in members:
            continue
        awards.append((proposal.proposer_id, "top_proposer", proposal.rank))
        taken.add(proposal.proposer_id)
        top += 1
    return awards


def result_text(title: str, product: str, winner: Ranked | None, total: int, voters: int, qualified: int) -> str:
    if winner is None:
        return f"命名投票「{title}」已结束，这次没有有效投票。"
    text = f"🏆 命名投票「{title}」结果揭晓：「{winner.name}」以 {winner.votes} 票胜出！共 {voters} 人投出 {total} 票。"
    if qualified:
        trial = f"「{product}」" if product else ""
        text += f"{qualified} 位成员获得{trial}免费试用资格；抽签种子已公布，人人可在结果页核验。"
    return text


# Holders who have not claimed their trial are reminded this long before the deadline.
TRIAL_CLOSING_LEAD = timedelta(hours=24)


async def _open_voting(conn: asyncpg.Connection, poll_id: int, actor_id: int | None) -> None:
    await conn.execute(q.OPEN_VOTING, poll_id)
    await audit(
        conn, poll_id, actor_id, "poll.voting_opened", details={"by": "deadline" if actor_id is None else "hand"}
    )


async def _close(conn: asyncpg.Connection, poll_id: int, actor_id: int | None) -> None:
    """Close a poll whose row this transaction holds FOR UPDATE: fix the ranking, grant the trials, publish."""
    poll = await conn.fetchrow(q.POLL_FOR_CLOSING, poll_id)
    community_id = poll["community_id"]
    voted = [r["user_id"] for r in await conn.fetch(q.VOTERS, community_id, poll_id)]
    voters = sorted(r["u"] for r in await conn.fetch(q.STANDING_VOTERS, community_id, voted))
    tally = [
        Ranked(r["id"], r["proposer_id"], r["name"], r["votes"], r["created_at"])
        for r in await conn.fetch(q.TALLY, poll_id, voters)
    ]
    ranking = rank(tally)
    if ranking:
        await conn.execute(
            q.SET_FINAL_RANKS,
            [p.proposal_id for p in ranking],
            [p.rank for p in ranking],
            [p.votes for p in ranking],
        )
    candidates = {p.proposer_id for p in ranking if p.votes > 0} | set(voters)
    members = {r["user_id"] for r in await conn.fetch(q.ACTIVE_MEMBERS_AMONG, community_id, list(candidates))}

    awards = proposer_awards(ranking, members, poll["reward_winning_proposer"], poll["reward_top_proposers"])
    awarded = {user_id for user_id, _, _ in awards}
    eligible = sorted(v for v in voters if v in members and v not in awarded)
    drawn = draw.draw(poll["draw_seed"], poll_id, eligible, poll["reward_drawn_voters"])
    awards += [(user_id, "drawn_voter", place) for place, user_id in enumerate(drawn, start=1)]

    total = sum(p.votes for p in ranking)
    closed_at = await conn.fetchval(q.CLOSE_POLL, poll_id, actor_id, eligible, total, len(voters))
    granted = []
    if awards:
        granted = await conn.fetch(
            q.INSERT_QUALIFICATIONS,
            poll_id,
            community_id,
            closed_at,
            poll["trial_claim_days"],
            [a[0] for a in awards],
            [a[1] for a in awards],
            [a[2] for a in awards],
        )
    for trial in granted:
        data = {"pollId": str(poll_id), "product": poll["trial_product"]}
        await deliver(conn, Item(trial["user_id"], "trial_won", "trial", trial["id"], community_id, data=data))
    winner = ranking[0] if ranking and ranking[0].votes > 0 else None
    outcome = {"title": poll["title"], "winner": winner.name if winner else ""}
    await deliver(conn, Item(sorted(members), "poll_closed", "poll", poll_id, community_id, data=outcome))
    text = result_text(poll["title"], poll["trial_product"], winner, total, len(voters), len(granted))
    post_id = await conn.fetchval(q.INSERT_ROBOT_POST, community_id, text)
    await conn.execute(q.INSERT_POLL_POST, poll_id, "result", post_id)
    details = {
        "by": "deadline" if actor_id is None else "hand",
        "totalVotes": total,
        "winnerProposalId": str(winner.proposal_id) if winner else None,
        "seed": poll["draw_seed"],
        "eligibleVoters": len(eligible),
        "uncountedVotes": await conn.fetchval(q.UNCOUNTED_VOTES, poll_id, voters),  # of members gone before the close
        "drawn": [str(u) for u in drawn],
    }
    await audit(conn, poll_id, actor_id, "poll.closed", details=details)
    for row in granted:
        await audit(conn, poll_id, None, "trial.granted", subject_id=row["user_id"], details={"reason": row["reason"]})
    if granted:
        expires_at = granted[0]["expires_at"]
        await enqueue(
            conn, "polls.expire_trials", {"poll_id": poll_id}, run_at=expires_at, dedupe_key=f"poll:{poll_id}:expire"
        )
        # A claim window shorter than the lead is told by trial_won alone.
        if expires_at - TRIAL_CLOSING_LEAD > closed_at:
            reminder = {"poll_id": poll_id, "product": poll["trial_product"]}
            run_at = expires_at - TRIAL_CLOSING_LEAD
            await enqueue(conn, "polls.trial_closing", reminder, run_at=run_at, dedupe_key=f"poll:{poll_id}:closing")


async def advance_due(conn: asyncpg.Connection, poll_id: int) -> str | None:
    """The deadline job: move the poll past every deadline that has passed. Returns the status it left, or
    None when there is no such poll. Safe to run any number of times."""
    async with conn.transaction():
        state = await lock_in_community(conn, q.POLL_COMMUNITY, q.POLL_STATE_LOCKED, poll_id)
        if state is None:
            return None
        if state["voting_due"]:
            await _open_voting(conn, poll_id, None)
            state = await conn.fetchrow(q.POLL_STATE_LOCKED, state["community_id"], poll_id)
        if state["closing_due"]:
            await _close(conn, poll_id, None)
            return "closed"
        return state["status"]


async def advance(
    conn: asyncpg.Connection, poll_id: int, admin_id: int, from_status: str | None, key: str | None
) -> Response[bytes]:
    """By hand: proposing -> voting now, or voting -> closed now. Each call moves the poll one phase on: a retry with
    the same Idempotency-Key answers the first call's poll instead of closing the poll that call opened for voting.
    ``from_status``, the phase the admin means to leave: another admin's advance (or a deadline) that moved the poll
    first makes this one poll_phase_changed, not a second step on."""

    async def action() -> tuple[int, m.Poll]:
        state = await poll_state(conn, poll_id, q.POLL_STATE_LOCKED)
        await require_app_member(conn, state["community_id"], admin_id, APP, admin=True)
        if from_status is not None and state["status"] != from_status:
            raise Problem("poll_phase_changed", f"the poll is {state['status']}, not {from_status}")
        if state["status"] == "proposing":
            await _open_voting(conn, poll_id, admin_id)
        elif state["status"] == "voting":
            await _close(conn, poll_id, admin_id)
        else:
            raise Problem("poll_closed")
        return 200, await read_poll(conn, poll_id, admin_id)

    scope = scope_of("poll.advance", poll_id) if from_status is None else scope_of("poll.advance", poll_id, from_status)
    return await run_once(conn, admin_id, key, scope, action)


async def close(conn: asyncpg.Connection, poll_id: int, admin_id: int) -> m.Results:
    """By hand: close now, from either open phase. Closing a closed poll answers its results again."""
    async with conn.transaction():
        state = await poll_state(conn, poll_id, q.POLL_STATE_LOCKED)
        await require_app_member(conn, state["community_id"], admin_id, APP, admin=True)
        if state["status"] != "closed":
            await _close(conn, poll_id, admin_id)
    return await results(conn, poll_id, admin_id)


async def results(conn: asyncpg.Connection, poll_id: int, user_id: int) -> m.Results:
    state = await poll_state(conn, poll_id)
    await require_app_member(conn, state["community_id"], user_id, APP)
    if state["status"] != "closed":
        raise Problem("poll_not_closed", "the results are published when the poll closes")
    poll = await conn.fetchrow(q.CLOSED_POLL, poll_id)
    ranking = [m.RankedProposal(**dict(row)) for row in await conn.fetch(q.RANKING, poll_id)]
    qualifications = [m.Qualification(**dict(row)) for row in await conn.fetch(q.QUALIFICATIONS, poll_id)]
    return m.Results(
        poll_id=str(poll_id),
        closed_at=poll["closed_at"],
        total_votes=poll["total_votes"],
        voter_count=poll["voter_count"],
        tie_break_rule=m.TIE_BREAK_RULE,
        winner=ranking[0] if ranking and ranking[0].votes > 0 else None,
        ranking=ranking,
        draw=m.Draw(
            algorithm=draw.ALGORITHM,
            poll_id=str(poll_id),
            seed=poll["draw_seed"],
            seed_commitment=poll["seed_commitment"],
            eligible_user_ids=[str(u) for u in poll["draw_eligible"]],
            count=poll["reward_drawn_voters"],
            winner_user_ids=[x.user_id for x in qualifications if x.reason == "drawn_voter"],
        ),
        qualifications=qualifications,
    )
