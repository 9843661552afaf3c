"""The rules of a poll as a whole: opening one (the robot's announcement, the deadline jobs), listing and
reading polls, and the full record of what happened in one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from litestar import Response

from service.core.access import ADMIN_ROLES
from service.core.apps import require_app_member
from service.core.content import require_passed
from service.core.idempotency import replay, run_once, scope_of
from service.core.media import claim_images, images_of
from service.core.paging import fetch_page
from service.core.rows import from_row
from service.errors import FieldError, Problem
from service.jobs import enqueue
from service.polls import draw
from service.polls import models as m
from service.polls import queries as q
from service.polls.common import APP, audit, poll_state
from service.wechat.client import WeChatClient

MAX_SCHEDULE = timedelta(days=180)
ROBOT = "poll"


def local_time(zone: str, at: datetime) -> str:
    """A deadline as the community's members read it: in the community's time zone (default Asia/Shanghai, China
    time), as meetup notices and activity windows; not the platform's METRICS_TIMEZONE, which only cuts metric days."""
    return at.astimezone(ZoneInfo(zone)).strftime("%m月%d日 %H:%M")


def poll_model(row: asyncpg.Record, me: m.PollMe | None = None, *, admin: bool) -> m.Poll:
    """The poll as a member (its approved photos) or one of its admins (all of them) sees it."""
    rewards = m.RewardRules(
        winning_proposer=row["reward_winning_proposer"],
        top_proposers=row["reward_top_proposers"],
        drawn_voters=row["reward_drawn_voters"],
        claim_days=row["trial_claim_days"],
        product=row["trial_product"],
    )
    images = images_of(row, "images" if admin else "approved_images")
    return from_row(m.Poll, row, rewards=rewards, me=me, images=images, trial_points=trial_points(row))


def trial_points(row: asyncpg.Record) -> m.TrialPoints | None:
    """The poll's offer of trial places for points, with the places left; None when it offers none."""
    if row["trial_points_price"] is None:
        return None
    return m.TrialPoints(
        price=row["trial_points_price"],
        places=row["trial_points_places"],
        places_left=max(0, row["trial_points_places"] - row["points_redeemed"]),
        redeemable_until=row["points_until"],
    )


async def require_points_spendable(conn: asyncpg.Connection, community_id: int) -> asyncpg.Record:
    """The community's brand, when it lets members spend check-in points; `points_not_spendable` otherwise (no
    brand, or the brand's switch is off)."""
    brand = await conn.fetchrow(q.COMMUNITY_BRAND, community_id)
    if brand is None:
        raise Problem("points_not_spendable", "the community belongs to no brand")
    if not brand["points_spendable"]:
        raise Problem("points_not_spendable", "the community's brand does not let members spend points")
    return brand


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
    me = await _me(conn, row, user_id, standing["role"])
    return poll_model(row, me, admin=standing["role"] in ADMIN_ROLES)


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


def announcement_text(zone: str, title: str, proposals_close_at: datetime, voting_close_at: datetime) -> str:
    return (
        f"📣 新品命名征集「{title}」开始啦！{local_time(zone, proposals_close_at)} 前提名，"
        f"{local_time(zone, voting_close_at)} 前投票，结果和试用名单届时公布。"
    )


async def create_poll(
    pool: asyncpg.Pool,
    wechat: WeChatClient,
    community_id: int,
    user_id: int,
    data: m.PollCreate,
    key: str | None,
) -> Response[bytes]:
    """Admins open a poll: the feed robot announces it, and jobs wait at both deadlines. Its texts reach every
    member at once (and the announcement): WeChat's content check must pass them, asked holding no connection."""
    scope = scope_of("poll.create", community_id, msgspec.to_builtins(data))
    async with pool.acquire() as conn:
        if (replayed := await replay(conn, user_id, key, scope)) is not None:
            return replayed  # a retry answers the poll the first opened, without asking WeChat again
    _check_schedule(data)
    title = data.title.strip()
    image_ids = [int(media_id) for media_id in data.image_ids]
    offer = data.trial_points
    async with pool.acquire() as conn:
        await require_app_member(conn, community_id, user_id, APP, admin=True)  # WeChat checks only an admin's
    texts = (title, data.description.strip(), data.rewards.product.strip())
    await require_passed(pool, wechat, user_id, "\n".join(t for t in texts if t), "title, description or product")

    async def action() -> tuple[int, m.Poll]:
        standing = await require_app_member(conn, community_id, user_id, APP, admin=True)
        if offer is not None:
            await require_points_spendable(conn, community_id)
        if image_ids:
            await claim_images(conn, user_id, image_ids)  # shown to members once WeChat approved each
        seed = draw.new_seed()
        rules = data.rewards
        poll_id = await conn.fetchval(
            q.INSERT_POLL,
            community_id,
            user_id,
            title,
            data.description.strip(),
            image_ids,
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
            offer.price if offer else None,
            offer.places if offer else None,
        )
        zone = await conn.fetchval(q.COMMUNITY_TIME_ZONE, community_id)
        text = announcement_text(zone, title, data.proposals_close_at, data.voting_close_at)
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
        return 201, poll_model(row, await _me(conn, row, user_id, standing["role"]), admin=True)

    async with pool.acquire() as conn:
        return await run_once(conn, user_id, key, scope, action)


async def list_polls(
    conn: asyncpg.Connection, community_id: int, user_id: int, status: str | None, limit: int, cursor: str | None
) -> m.PollPage:
    standing = await require_app_member(conn, community_id, user_id, APP)
    item = partial(poll_model, admin=standing["role"] in ADMIN_ROLES)
    items, next_cursor = await fetch_page(
        conn, q.POLLS_OF_COMMUNITY, community_id, status, limit=limit, cursor=cursor, item=item
    )
    return m.PollPage(items=items, next_cursor=next_cursor)


# --- the record --------------------------------------------------------------------------------------------


async def audit_log(conn: asyncpg.Connection, poll_id: int, user_id: int, limit: int, cursor: str | None):
    """Every proposal, vote, withdrawal, moderation and phase change, oldest first. Admins see it at any time;
    members once the poll is closed (votes are not public while they can still sway others), without the names of
    proposals held for review or hidden (but their own)."""
    state = await poll_state(conn, poll_id)
    standing = await require_app_member(conn, state["community_id"], user_id, APP)
    admin = standing["role"] in ADMIN_ROLES
    if not admin and state["status"] != "closed":
        raise Problem("poll_not_closed", "members see the full record once the poll is closed")
    entry = partial(from_row, m.PollAuditEntry)
    # A member reads no name the proposal list kept from them (held for WeChat's review, hidden by the admins).
    items, next_cursor = await fetch_page(
        conn, q.AUDIT, poll_id, admin, user_id, limit=limit, cursor=cursor, item=entry
    )
    return m.PollAuditPage(items=items, next_cursor=next_cursor)
