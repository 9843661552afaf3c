"""The rules of naming polls: who may do what in which phase, and in which transaction.

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

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from litestar import Response

from service.core.access import ADMIN_ROLES
from service.core.apps import require_app_member
from service.core.idempotency import run_once, scope_of
from service.core.interactions import record
from service.core.paging import decode_cursor, encode_cursor
from service.core.rows import from_row, invalid
from service.errors import FieldError, Problem
from service.jobs import enqueue
from service.polls import draw
from service.polls import models as m
from service.polls import queries as q
from service.polls.naming import display_name, name_key
from service.settings import Settings
from service.wechat.client import WeChatClient
from service.wechat.errors import CONTENT_REJECTED, WECHAT_SESSION_STALE, WeChatError

# The community app these routes belong to. Trials already granted stay claimable and shippable when the
# app is switched off: they are promises made to members.
APP = "polls"
POLL_NOT_ACCEPTING_PROPOSALS = "poll_not_accepting_proposals"
POLL_NOT_ACCEPTING_VOTES = "poll_not_accepting_votes"

SCENE_FORUM = 3  # msg_sec_check scene for user text shown to others (WECHAT.md)
NOT_VISITED_RECENTLY = 61010
MAX_SCHEDULE = timedelta(days=180)
ROBOT = "poll"


class DuplicateProposal(Problem):
    """A 409 that also names the proposal the new name duplicates (`existingProposalId` in the body)."""

    def __init__(self, existing_id: int) -> None:
        self.existing_id = str(existing_id)
        super().__init__("duplicate_proposal", f"proposal {existing_id} already has this name")


# --- helpers -----------------------------------------------------------------------------------------------


def page_of(items: list, rows: list, limit: int) -> tuple[list, str | None]:
    next_cursor = encode_cursor(rows[limit - 1]["sort_id"]) if len(rows) > limit else None
    return items[:limit], next_cursor


def local_time(settings: Settings, at: datetime) -> str:
    return at.astimezone(ZoneInfo(settings.metrics_timezone)).strftime("%m月%d日 %H:%M")


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


async def poll_state(conn: asyncpg.Connection, poll_id: int, query: str = q.POLL_STATE) -> asyncpg.Record:
    row = await conn.fetchrow(query, poll_id)
    if row is None:
        raise Problem("not_found", "no such poll")
    return row


async def check_content(wechat: WeChatClient, openid: str, text: str) -> str:
    """WeChat's verdict on member text shown to others: 'pass' or 'review'; 'risky' is refused here."""
    try:
        verdict = await wechat.check_text(openid, SCENE_FORUM, text)
    except WeChatError as exc:
        if exc.errcode == NOT_VISITED_RECENTLY:
            raise Problem(WECHAT_SESSION_STALE) from None
        raise
    if verdict.suggest == "risky":
        raise Problem(CONTENT_REJECTED, f"the text was rejected (label {verdict.label})")
    return verdict.suggest


async def openid_of(conn: asyncpg.Connection, user_id: int) -> str:
    openid = await conn.fetchval(q.USER_OPENID, user_id)
    if openid is None:
        raise Problem("unauthorized", "this account no longer exists")
    return openid


def poll_model(row: asyncpg.Record, me: m.PollMe | None = None) -> m.Poll:
    rewards = m.RewardRules(
        winning_proposer=row["reward_winning_proposer"],
        top_proposers=row["reward_top_proposers"],
        drawn_voters=row["reward_drawn_voters"],
        claim_days=row["trial_claim_days"],
        product=row["trial_product"],
    )
    return from_row(m.Poll, row, rewards=rewards, me=me)


async def _me(conn: asyncpg.Connection, poll: asyncpg.Record, user_id: int, role: str) -> m.PollMe:
    poll_id = int(poll["id"])
    proposals = await conn.fetchval(q.COUNT_MY_PROPOSALS, poll_id, user_id)
    votes = [r["proposal_id"] for r in await conn.fetch(q.MY_ACTIVE_VOTES, poll_id, user_id)]
    return m.PollMe(
        role=role,
        proposals_used=proposals,
        proposals_left=max(0, poll["proposals_per_member"] - proposals),
        votes_used=len(votes),
        votes_left=max(0, poll["votes_per_member"] - len(votes)),
        voted_proposal_ids=[str(v) for v in votes],
    )


async def read_poll(conn: asyncpg.Connection, poll_id: int, user_id: int) -> m.Poll:
    row = await conn.fetchrow(q.POLL, poll_id)
    if row is None:
        raise Problem("not_found", "no such poll")
    standing = await require_app_member(conn, int(row["community_id"]), user_id, APP)
    return poll_model(row, await _me(conn, row, user_id, standing["role"]))


def _not_accepting_proposals(state: asyncpg.Record) -> Problem:
    if state["status"] == "proposing":
        detail = f"the proposal deadline passed at {state['proposals_close_at'].isoformat()}"
    else:
        detail = f"the poll is {state['status']}"
    return Problem(POLL_NOT_ACCEPTING_PROPOSALS, detail)


def not_accepting_votes(state: asyncpg.Record) -> Problem:
    if state["status"] == "proposing":
        detail = f"voting opens at {state['proposals_close_at'].isoformat()}"
    elif state["status"] == "voting":
        detail = f"the voting deadline passed at {state['voting_close_at'].isoformat()}"
    else:
        detail = "the poll is closed"
    return Problem(POLL_NOT_ACCEPTING_VOTES, detail)


# --- polls -------------------------------------------------------------------------------------------------


def _check_schedule(data: m.PollCreate) -> None:
    now = datetime.now(UTC)
    errors = []
    if not data.title.strip():
        errors.append(FieldError(field="title", message="must not be blank", source="body"))
    if data.proposals_close_at <= now:
        errors.append(FieldError(field="proposalsCloseAt", message="must be in the future", source="body"))
    if data.voting_close_at <= data.proposals_close_at:
        errors.append(FieldError(field="votingCloseAt", message="must be after proposalsCloseAt", source="body"))
    elif data.voting_close_at > now + MAX_SCHEDULE:
        errors.append(FieldError(field="votingCloseAt", message="must be within 180 days", source="body"))
    if errors:
        raise Problem("validation_failed", "invalid poll", errors=errors)


def announcement_text(settings: Settings, title: str, proposals_close_at: datetime, voting_close_at: datetime) -> str:
    return (
        f"📣 新品命名征集「{title}」开始啦！{local_time(settings, proposals_close_at)} 前提名，"
        f"{local_time(settings, voting_close_at)} 前投票，结果和试用名单届时公布。"
    )


async def create_poll(
    conn: asyncpg.Connection,
    settings: Settings,
    community_id: int,
    user_id: int,
    data: m.PollCreate,
    key: str | None,
) -> Response[bytes]:
    """Admins open a poll: the feed robot announces it, and jobs wait at both deadlines."""
    _check_schedule(data)
    title = data.title.strip()

    async def action() -> tuple[int, m.Poll]:
        standing = await require_app_member(conn, community_id, user_id, APP, admin=True)
        seed = draw.new_seed()
        rules = data.rewards
        poll_id = await conn.fetchval(
            q.INSERT_POLL,
            community_id,
            user_id,
            title,
            data.description.strip(),
            data.image_urls,
            data.proposals_close_at,
            data.voting_close_at,
            data.votes_per_member,
            data.proposals_per_member,
            data.allow_vote_changes,
            data.anonymous_proposals,
            rules.product.strip(),
            rules.winning_proposer,
            rules.top_proposers,
            rules.drawn_voters,
            rules.claim_days,
            seed,
            draw.commitment(seed),
        )
        text = announcement_text(settings, title, data.proposals_close_at, data.voting_close_at)
        post_id = await conn.fetchval(q.INSERT_ROBOT_POST, community_id, text)
        await conn.execute(q.INSERT_POLL_POST, poll_id, "announcement", post_id)
        await audit(
            conn, poll_id, user_id, "poll.created", details={"title": title, "seedCommitment": draw.commitment(seed)}
        )
        await enqueue(
            conn,
            "polls.advance",
            {"poll_id": poll_id},
            run_at=data.proposals_close_at,
            dedupe_key=f"poll:{poll_id}:voting",
        )
        await enqueue(
            conn, "polls.advance", {"poll_id": poll_id}, run_at=data.voting_close_at, dedupe_key=f"poll:{poll_id}:close"
        )
        row = await conn.fetchrow(q.POLL, poll_id)
        return 201, poll_model(row, await _me(conn, row, user_id, standing["role"]))

    scope = scope_of("poll.create", community_id, msgspec.to_builtins(data))
    return await run_once(conn, user_id, key, scope, action)


async def list_polls(
    conn: asyncpg.Connection, community_id: int, user_id: int, status: str | None, limit: int, cursor: str | None
) -> m.PollPage:
    await require_app_member(conn, community_id, user_id, APP)
    after = decode_cursor(cursor, int)
    rows = await conn.fetch(q.POLLS_OF_COMMUNITY, community_id, status, after[0] if after else None, limit + 1)
    items = [poll_model(row) for row in rows[:limit]]
    next_cursor = encode_cursor(int(rows[limit - 1]["id"])) if len(rows) > limit else None
    return m.PollPage(items=items, next_cursor=next_cursor)


# --- proposals ---------------------------------------------------------------------------------------------


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
    if standing["muted_until"] is not None and standing["muted_until"] > datetime.now(UTC):
        raise Problem("member_muted", f"muted until {standing['muted_until'].isoformat()}")
    return standing


def _checked_name(raw: str) -> tuple[str, str]:
    name = display_name(raw)
    key = name_key(name)
    if not key:
        raise invalid("name", "must hold a letter, digit or symbol besides spaces and punctuation")
    return name, key


async def replay_only() -> tuple[int, Any]:
    raise RuntimeError("a stored answer is replayed; the action does not run again")


async def propose(
    pool: asyncpg.Pool, wechat: WeChatClient, poll_id: int, user_id: int, data: m.ProposalCreate, key: str | None
) -> Response[bytes]:
    """A member proposes a name. WeChat checks the text between two short transactions: no connection is
    held while waiting on WeChat, and everything is checked again under the locks afterwards."""
    name, name_key_ = _checked_name(data.name)
    scope = scope_of("poll.proposal", poll_id, name)
    async with pool.acquire() as conn:
        if key is not None and await conn.fetchval(q.KEY_ANSWERED, user_id, key):
            return await run_once(conn, user_id, key, scope, replay_only)
        state = await poll_state(conn, poll_id)
        await _require_active_proposer(conn, state, user_id)
        if not state["accepting_proposals"]:
            raise _not_accepting_proposals(state)
        if await conn.fetchval(q.COUNT_MY_PROPOSALS, poll_id, user_id) >= state["proposals_per_member"]:
            raise Problem("proposal_limit_reached", f"at most {state['proposals_per_member']} per member")
        if (existing := await conn.fetchval(q.PROPOSAL_BY_KEY, poll_id, name_key_)) is not None:
            raise DuplicateProposal(existing)
        openid = await openid_of(conn, user_id)
    verdict = await check_content(wechat, openid, name)

    async def action() -> tuple[int, m.Proposal]:
        state = await poll_state(conn, poll_id, q.POLL_STATE_SHARED)
        standing = await _require_active_proposer(conn, state, user_id)
        if not state["accepting_proposals"]:
            raise _not_accepting_proposals(state)
        await conn.execute(q.LOCK_PARTICIPANT, poll_id, user_id)
        if await conn.fetchval(q.COUNT_MY_PROPOSALS, poll_id, user_id) >= state["proposals_per_member"]:
            raise Problem("proposal_limit_reached", f"at most {state['proposals_per_member']} per member")
        status = "pending" if verdict == "review" else "visible"
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
    after = decode_cursor(cursor, int)
    rows = await conn.fetch(q.PROPOSALS, poll_id, user_id, admin, after[0] if after else None, limit + 1)
    reveal = _reveals_proposers(state, standing["role"])
    items, next_cursor = page_of([_proposal(row, reveal=reveal) for row in rows], rows, limit)
    return m.ProposalPage(items=items, next_cursor=next_cursor)


async def _locked_for_moderation(conn: asyncpg.Connection, poll_id: int, admin_id: int) -> asyncpg.Record:
    state = await poll_state(conn, poll_id, q.POLL_STATE_LOCKED)
    await require_app_member(conn, state["community_id"], admin_id, APP, admin=True)
    if state["status"] == "closed":
        raise Problem("poll_closed")
    return state


async def proposal_in(conn: asyncpg.Connection, poll_id: int, proposal_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(q.PROPOSAL, proposal_id, poll_id)
    if row is None:
        raise Problem("not_found", f"no proposal {proposal_id} in this poll")
    return row


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
        carried = await conn.fetch(q.CARRY_VOTES, proposal_id, target_id)
        await conn.execute(q.MERGE_PROPOSAL, proposal_id, poll_id, target_id, admin_id)
        details = {"into": str(target_id), "votesCarried": len(carried), "votesReturned": before - len(carried)}
        await audit(conn, poll_id, admin_id, "proposal.merged", proposal_id=proposal_id, details=details)
        return await _proposal_view(conn, state, proposal_id, admin_id, "admin")


# --- the record --------------------------------------------------------------------------------------------


async def audit_log(conn: asyncpg.Connection, poll_id: int, user_id: int, limit: int, cursor: str | None):
    """Every proposal, vote, withdrawal, moderation and phase change, oldest first. Admins see it at any time;
    members once the poll is closed (votes are not public while they can still sway others)."""
    state = await poll_state(conn, poll_id)
    standing = await require_app_member(conn, state["community_id"], user_id, APP)
    if standing["role"] not in ADMIN_ROLES and state["status"] != "closed":
        raise Problem("poll_not_closed", "members see the full record once the poll is closed")
    after = decode_cursor(cursor, int)
    rows = await conn.fetch(q.AUDIT, poll_id, after[0] if after else None, limit + 1)
    items, next_cursor = page_of([from_row(m.PollAuditEntry, row) for row in rows], rows, limit)
    return m.PollAuditPage(items=items, next_cursor=next_cursor)
