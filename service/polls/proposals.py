"""Proposing names, and the admins' moderation of proposals: hide, show, merge a duplicate."""

from __future__ import annotations

from functools import partial

import asyncpg
from litestar import Response

from service.core.access import ADMIN_ROLES, require_not_muted
from service.core.apps import require_app_member
from service.core.content import openid_of, status_for
from service.core.idempotency import replay, run_once, scope_of
from service.core.interactions import record
from service.core.paging import fetch_page
from service.core.rows import from_row, invalid
from service.errors import Problem
from service.polls import models as m
from service.polls import queries as q
from service.polls.common import (
    APP,
    POLL_NOT_ACCEPTING_PROPOSALS,
    audit,
    poll_state,
    proposal_in,
)
from service.polls.naming import display_name, name_key
from service.wechat.client import WeChatClient


class DuplicateProposal(Problem):
    """A 409 that also names the proposal the new name duplicates (`existingProposalId` in the body)."""

    def __init__(self, existing_id: int) -> None:
        self.existing_id = str(existing_id)
        super().__init__("duplicate_proposal", f"proposal {existing_id} already has this name")


def _not_accepting_proposals(state: asyncpg.Record) -> Problem:
    if state["status"] == "proposing":
        detail = f"the proposal deadline passed at {state['proposals_close_at'].isoformat()}"
    else:
        detail = f"the poll is {state['status']}"
    return Problem(POLL_NOT_ACCEPTING_PROPOSALS, detail)


def _proposal(row: asyncpg.Record, *, reveal: bool) -> m.Proposal:
    proposer = str(row["proposer_id"]) if reveal or row["mine"] else None
    return from_row(m.Proposal, row, proposer_id=proposer)


def _reveals_proposers(state: asyncpg.Record, role: str) -> bool:
    return role in ADMIN_ROLES or not state["anonymous_proposals"] or state["status"] == "closed"


async def _proposal_view(conn: asyncpg.Connection, state: asyncpg.Record, proposal_id: int, user_id: int, role: str):
    row = await conn.fetchrow(q.PROPOSAL_VIEW, state["id"], user_id, proposal_id)
    return _proposal(row, reveal=_reveals_proposers(state, role))


async def _require_active_proposer(conn: asyncpg.Connection, state: asyncpg.Record, user_id: int) -> asyncpg.Record:
    standing = await require_app_member(conn, state["community_id"], user_id, APP)
    require_not_muted(standing)
    return standing


def _checked_name(raw: str) -> tuple[str, str]:
    name = display_name(raw)
    key = name_key(name)
    if not key:
        raise invalid("name", "must hold a letter, digit or symbol besides spaces and punctuation")
    return name, key


async def propose(
    pool: asyncpg.Pool, wechat: WeChatClient, poll_id: int, user_id: int, data: m.ProposalCreate, key: str | None
) -> Response[bytes]:
    """A member proposes a name. WeChat checks the text between two short transactions: no connection is
    held while waiting on WeChat, and everything is checked again under the locks afterwards."""
    name, name_key_ = _checked_name(data.name)
    scope = scope_of("poll.proposal", poll_id, name)
    async with pool.acquire() as conn:
        if (replayed := await replay(conn, user_id, key, scope)) is not None:
            return replayed
        state = await poll_state(conn, poll_id)
        await _require_active_proposer(conn, state, user_id)
        if not state["accepting_proposals"]:
            raise _not_accepting_proposals(state)
        if await conn.fetchval(q.COUNT_MY_PROPOSALS, poll_id, user_id) >= state["proposals_per_member"]:
            raise Problem("proposal_limit_reached", f"at most {state['proposals_per_member']} per member")
        if (existing := await conn.fetchval(q.PROPOSAL_BY_KEY, poll_id, name_key_)) is not None:
            raise DuplicateProposal(existing)
        openid = await openid_of(conn, user_id)
    status = await status_for(wechat, openid, name)  # held for WeChat's review: pending, shown to its proposer

    async def action() -> tuple[int, m.Proposal]:
        state = await poll_state(conn, poll_id, q.POLL_STATE_SHARED)
        standing = await _require_active_proposer(conn, state, user_id)
        if not state["accepting_proposals"]:
            raise _not_accepting_proposals(state)
        await conn.execute(q.LOCK_PARTICIPANT, poll_id, user_id)
        if await conn.fetchval(q.COUNT_MY_PROPOSALS, poll_id, user_id) >= state["proposals_per_member"]:
            raise Problem("proposal_limit_reached", f"at most {state['proposals_per_member']} per member")
        proposal_id = await conn.fetchval(
            q.INSERT_PROPOSAL, poll_id, state["community_id"], user_id, name, name_key_, status
        )
        if proposal_id is None:
            raise DuplicateProposal(await conn.fetchval(q.PROPOSAL_BY_KEY, poll_id, name_key_))
        details = {"name": name, "status": status}
        await audit(conn, poll_id, user_id, "proposal.created", proposal_id=proposal_id, details=details)
        await record(conn, state["community_id"], user_id, "proposal")
        return 201, await _proposal_view(conn, state, proposal_id, user_id, standing["role"])

    async with pool.acquire() as conn:
        return await run_once(conn, user_id, key, scope, action)


async def list_proposals(
    conn: asyncpg.Connection, poll_id: int, user_id: int, limit: int, cursor: str | None
) -> m.ProposalPage:
    state = await poll_state(conn, poll_id)
    standing = await require_app_member(conn, state["community_id"], user_id, APP)
    admin = standing["role"] in ADMIN_ROLES
    reveal = _reveals_proposers(state, standing["role"])
    items, next_cursor = await fetch_page(
        conn, q.PROPOSALS, poll_id, user_id, admin, limit=limit, cursor=cursor, item=partial(_proposal, reveal=reveal)
    )
    return m.ProposalPage(items=items, next_cursor=next_cursor)


async def _locked_for_moderation(conn: asyncpg.Connection, poll_id: int, admin_id: int) -> asyncpg.Record:
    state = await poll_state(conn, poll_id, q.POLL_STATE_LOCKED)
    await require_app_member(conn, state["community_id"], admin_id, APP, admin=True)
    if state["status"] == "closed":
        raise Problem("poll_closed")
    # The tally is fixed at the voting deadline, as votes and withdrawals are: a late job must not leave a window
    # in which hiding or merging a proposal changes who won.
    if state["voting_over"]:
        raise Problem("poll_closed", f"the voting deadline passed at {state['voting_close_at'].isoformat()}")
    return state


async def moderate(
    conn: asyncpg.Connection, poll_id: int, admin_id: int, proposal_id: int, data: m.ProposalModeration
) -> m.Proposal:
    """Admins hide an unsuitable proposal (its votes go back to their members) or show a pending or hidden
    one. Not after close: results are final."""
    async with conn.transaction():
        state = await _locked_for_moderation(conn, poll_id, admin_id)
        proposal = await proposal_in(conn, poll_id, proposal_id)
        if proposal["status"] == "merged":
            raise Problem("proposal_merged", f"merged into proposal {proposal['merged_into']}")
        if proposal["status"] != data.status:
            await conn.execute(q.SET_PROPOSAL_STATUS, proposal_id, poll_id, data.status, admin_id)
            withdrawn = []
            if data.status == "hidden":
                withdrawn = await conn.fetch(q.WITHDRAW_VOTES_ON, proposal_id, "hidden")
                for vote in withdrawn:
                    await audit(
                        conn,
                        poll_id,
                        admin_id,
                        "vote.withdrawn",
                        proposal_id=proposal_id,
                        vote_id=vote["id"],
                        subject_id=vote["user_id"],
                        details={"reason": "hidden"},
                    )
            action = {"hidden": "proposal.hidden", "visible": "proposal.shown"}[data.status]
            details = {"from": proposal["status"], "reason": data.reason.strip(), "votesReturned": len(withdrawn)}
            await audit(conn, poll_id, admin_id, action, proposal_id=proposal_id, details=details)
        return await _proposal_view(conn, state, proposal_id, admin_id, "admin")


async def merge(
    conn: asyncpg.Connection, poll_id: int, admin_id: int, proposal_id: int, data: m.ProposalMerge
) -> m.Proposal:
    """Admins merge a duplicate the normaliser missed into another proposal: its votes move along, except
    where the member already votes for the target (that vote goes back to the member)."""
    target_id = int(data.into_proposal_id)
    async with conn.transaction():
        state = await _locked_for_moderation(conn, poll_id, admin_id)
        source = await proposal_in(conn, poll_id, proposal_id)
        target = await proposal_in(conn, poll_id, target_id)
        if source["id"] == target["id"]:
            raise Problem("invalid_merge", "a proposal cannot be merged into itself")
        if source["status"] == "merged":
            raise Problem("proposal_merged", f"already merged into proposal {source['merged_into']}")
        if target["status"] != "visible":
            raise Problem("invalid_merge", f"the target proposal is {target['status']}")
        before = await conn.fetchval(q.COUNT_ACTIVE_VOTES_ON, proposal_id)
        carried = await conn.fetch(q.CARRY_VOTES, proposal_id, target_id, state["community_id"])
        await conn.execute(q.MERGE_PROPOSAL, proposal_id, poll_id, target_id, admin_id)
        details = {"into": str(target_id), "votesCarried": len(carried), "votesReturned": before - len(carried)}
        await audit(conn, poll_id, admin_id, "proposal.merged", proposal_id=proposal_id, details=details)
        return await _proposal_view(conn, state, proposal_id, admin_id, "admin")
