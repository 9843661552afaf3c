"""A seeded community with one member of every role and one real row of every kind a route can name, made
over HTTP against `tests.stack` (logins through the WeChat sandbox, payments through the Pay sandbox).

The contract fuzzer aims path parameters at these rows and the role matrix calls every route on them:

    seeded = await seed(stack)
    seeded.users["member"].headers, seeded.ids["post_id"]

Cast: `owner`, `admin`, `author` (a plain member who owns the posts, comment, invite, proposals, trial,
collection, entry order and meetup place), `member` (a plain member who owns nothing) and `stranger`
(logged in, in no community). `ids` holds one value per path parameter name of the spec.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

import service.polls.jobs  # noqa: F401  (registers the job kinds the seed runs)
from service.core.domain import job_registry
from service.db.pool import create_pool
from service.domains import DOMAINS
from service.jobs import JobContext
from service.jobs.worker import Worker
from service.wechat.client import WeChatClient
from service.wechat.pay import WeChatPay
from tests.stack import OPERATOR_KEY, LiveStack, Stack
from tests.support import http_client
from tests.wechat_support import bearer, login

CAST = ("owner", "admin", "author", "member", "stranger")
OPERATOR = {"X-Operator-Key": OPERATOR_KEY}


@dataclass(frozen=True)
class User:
    id: str
    name: str
    tokens: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.tokens)


@dataclass
class Seeded:
    users: dict[str, User]
    ids: dict[str, str] = field(default_factory=dict)
    # Rows of the same kinds in other states (an approval community, a paid one, a closed poll, ...).
    extra: dict[str, str] = field(default_factory=dict)


def at(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_window(zone: ZoneInfo = SHANGHAI) -> dict[str, str]:
    """A check-in window open now, local time (Asia/Shanghai, the default time zone): from an hour ago, but not
    before today's midnight, to two hours ahead. A window opened yesterday evening belongs to yesterday, a day
    before the activity starts, so around midnight it would not be open."""
    now = datetime.now(zone)
    opens = max(now - timedelta(hours=1), now.replace(hour=0, minute=0, second=0, microsecond=0))
    return {"windowStart": opens.strftime("%H:%M"), "windowEnd": (now + timedelta(hours=2)).strftime("%H:%M")}


class Seeder:
    """Helpers that make rows over HTTP and fail loudly when the API refuses."""

    def __init__(self, stack: Stack, api: httpx.AsyncClient, worker: Worker) -> None:
        self.stack = stack
        self.api = api
        self.worker = worker
        self.pool = worker.context.pool

    async def call(self, method: str, path: str, who: User | None, expect: tuple[int, ...] = (200, 201), **kw):
        headers = {**(who.headers if who else {}), **kw.pop("headers", {})}
        response = await self.api.request(method, path, headers=headers, **kw)
        assert response.status_code in expect, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    async def user(self, name: str) -> User:
        tokens = await login(self.api, self.stack.sandbox.url, name)
        return User(tokens["user"]["id"], name, tokens)

    async def community(self, owner: User, *members: User, **fields: Any) -> str:
        body = {"name": f"{owner.name} {uuid.uuid4().hex[:6]}", "memberCap": 500, **fields}
        community_id = (await self.call("POST", "/v1/communities", owner, json=body))["id"]
        for member in members:
            await self.join(member, community_id)
        return community_id

    async def join(self, who: User, community_id: str, **body: Any) -> dict:
        joined = await self.call("POST", f"/v1/communities/{community_id}/join", who, (200, 201, 202), json=body)
        if joined["outcome"] == "payment":
            await self.pay(joined["order"])
        return joined

    async def pay(self, order: dict) -> None:
        """The payer pays in WeChat; the signed notification reaches the API before this returns."""
        prepay_id = order["payment"]["package"].removeprefix("prepay_id=")
        await self.stack.sandbox.control("POST", "/sandbox/pay", json={"prepayId": prepay_id})

    async def promote(self, owner: User, community_id: str, who: User) -> None:
        path = f"/v1/communities/{community_id}/members/{who.id}"
        await self.call("PUT", path, owner, json={"role": "admin"})

    async def post(self, who: User, community_id: str, text: str = "今天跑了五公里，天气很好") -> str:
        return (await self.call("POST", f"/v1/communities/{community_id}/posts", who, json={"text": text}))["id"]

    async def comment(self, who: User, post_id: str, text: str = "加油，一起跑") -> str:
        return (await self.call("POST", f"/v1/posts/{post_id}/comments", who, json={"text": text}))["id"]

    async def invite(self, who: User, community_id: str) -> str:
        return (await self.call("POST", f"/v1/communities/{community_id}/invites", who, json={}))["code"]

    async def poll(self, by: User, community_id: str, **fields: Any) -> str:
        body = {
            "title": "新款冷萃咖啡",
            "proposalsCloseAt": at(hours=1),
            "votingCloseAt": at(hours=2),
            **fields,
        }
        return (await self.call("POST", f"/v1/communities/{community_id}/polls", by, json=body))["id"]

    async def proposal(self, who: User, poll_id: str, name: str | None = None) -> str:
        body = {"name": name or f"星空{uuid.uuid4().hex[:6]}"}
        return (await self.call("POST", f"/v1/polls/{poll_id}/proposals", who, json=body))["id"]

    async def advance(self, by: User, poll_id: str) -> None:
        await self.call("POST", f"/v1/polls/{poll_id}/advance", by)

    async def vote(self, who: User, poll_id: str, proposal_id: str) -> None:
        await self.call("POST", f"/v1/polls/{poll_id}/votes", who, json={"proposalId": proposal_id})

    async def trial(self, admin: User, holder: User, voter: User, community_id: str) -> tuple[str, str]:
        """A closed poll whose winning proposer (``holder``) holds a free trial: (poll id, trial id)."""
        poll_id = await self.poll(admin, community_id)
        proposal_id = await self.proposal(holder, poll_id)
        await self.advance(admin, poll_id)
        await self.vote(voter, poll_id, proposal_id)
        await self.call("POST", f"/v1/polls/{poll_id}/close", admin)
        (trial,) = [t for t in (await self.call("GET", "/v1/me/trials", holder))["items"] if t["pollId"] == poll_id]
        return poll_id, trial["id"]

    async def claim(self, holder: User, trial_id: str) -> None:
        await self.call("POST", f"/v1/trials/{trial_id}/claim", holder, json={"deliveryNote": "上海市徐汇区某路 1 号"})

    async def activity(self, admin: User, community_id: str) -> str:
        body = {"title": "早起打卡", "prompt": "晒出今天早上的第一张照片", "recurrence": "daily", **local_window()}
        return (await self.call("POST", f"/v1/communities/{community_id}/activities", admin, json=body))["id"]

    async def meetup(self, admin: User, community_id: str, **fields: Any) -> str:
        body = {"title": "周六晨跑", "mode": "offline", "place": "奥森南门", "startsAt": at(days=3), "capacity": 10}
        return (await self.call("POST", f"/v1/communities/{community_id}/meetups", admin, json={**body, **fields}))[
            "id"
        ]

    async def sign_up(self, who: User, meetup_id: str) -> dict:
        signup = await self.call("POST", f"/v1/meetups/{meetup_id}/signups", who)
        if signup.get("order"):
            await self.pay(signup["order"])
        return signup

    async def collection(self, initiator: User, community_id: str, participants: list[User]) -> str:
        body = {"title": "周六烧烤 AA", "amountFen": 4500, "participantIds": [p.id for p in participants]}
        return (await self.call("POST", f"/v1/communities/{community_id}/collections", initiator, json=body))["id"]

    async def pay_share(self, who: User, collection_id: str) -> dict:
        order = await self.call("POST", f"/v1/collections/{collection_id}/pay", who)
        await self.pay(order)
        return order

    async def robot_rule(self, admin: User, community_id: str) -> str:
        body = {"keyword": "价格", "reply": "价格请看群公告"}
        return (await self.call("POST", f"/v1/communities/{community_id}/robot-rules", admin, json=body))["id"]

    async def topic(self, admin: User, community_id: str) -> str:
        path = f"/v1/communities/{community_id}/warmup/topics"
        return (await self.call("POST", path, admin, json={"text": "周末大家都去哪儿跑步？"}))["id"]

    async def join_request(self, applicant: User, community_id: str) -> str:
        return (await self.join(applicant, community_id, message="我也喜欢跑步"))["request"]["id"]

    async def settle(self, collection_id: str) -> str:
        """Move the collection's deadline into the past and let the worker settle it: the transfer's id."""
        await self.pool.execute(
            "UPDATE collections SET deadline = now() - interval '1 second' WHERE id = $1", int(collection_id)
        )
        await self.run_due_jobs()
        return await self.pool.fetchval("SELECT transfer_id::text FROM collections WHERE id = $1", int(collection_id))

    async def run_due_jobs(self, rounds: int = 10) -> None:
        for _ in range(rounds):
            await self.pool.execute("UPDATE jobs SET run_at = now() WHERE status = 'queued'")
            if await self.worker.run_once() == 0:
                return

    async def reward_pool(self, community_id: str) -> str:
        today = datetime.now(UTC).date()
        body = {"amountFen": 10000, "start": str(today - timedelta(days=7)), "end": str(today)}
        body["communityIds"] = [community_id]
        return (await self.call("POST", "/v1/admin/reward-pools", None, json=body, headers=OPERATOR))["id"]


@contextlib.asynccontextmanager
async def seeder_for(stack: Stack) -> AsyncIterator[Seeder]:
    """A Seeder with a client, a pool and an in-process worker holding both WeChat clients."""
    pool = await create_pool(stack.settings)
    try:
        async with (
            http_client(base_url=stack.api_url, timeout=30) as api,
            http_client(timeout=10) as http,
        ):
            pay = WeChatPay.from_settings(stack.settings, http)
            services = {"pay": pay, "wechat": WeChatClient(http, pool, stack.settings)}
            context = JobContext(pool=pool, settings=stack.settings, http=http, services=services)
            yield Seeder(
                stack,
                api,
                Worker(context, job_registry(DOMAINS), concurrency=2, lease=5, poll_interval=0.05, backoff_base=0.2),
            )
    finally:
        await pool.close()


async def seed(stack: Stack) -> Seeded:
    async with seeder_for(stack) as seeder:
        return await build(seeder)


async def build(s: Seeder) -> Seeded:
    users = {name: await s.user(name) for name in CAST}
    owner, admin, author, member = (users[name] for name in ("owner", "admin", "author", "member"))
    seeded = Seeded(users)
    ids = seeded.ids

    cid = await s.community(owner, admin, author, member, name="晨跑俱乐部")
    await s.promote(owner, cid, admin)
    ids["community_id"] = cid
    ids["user_id"] = author.id
    ids["post_id"] = await s.post(author, cid)
    ids["comment_id"] = await s.comment(author, ids["post_id"])
    ids["code"] = await s.invite(author, cid)
    ids["rule_id"] = await s.robot_rule(admin, cid)
    ids["topic_id"] = await s.topic(admin, cid)
    ids["activity_id"] = await s.activity(admin, cid)
    ids["app"] = "meetups"

    # A poll in its proposal phase with the author's proposal; one in voting; one closed with a trial.
    ids["poll_id"] = await s.poll(admin, cid)
    ids["proposal_id"] = await s.proposal(author, ids["poll_id"])
    seeded.extra["other_proposal_id"] = await s.proposal(member, ids["poll_id"])
    voting = await s.poll(admin, cid)
    seeded.extra["voting_proposal_id"] = await s.proposal(author, voting)
    await s.advance(admin, voting)
    await s.vote(author, voting, seeded.extra["voting_proposal_id"])
    seeded.extra["voting_poll_id"] = voting
    seeded.extra["closed_poll_id"], ids["trial_id"] = await s.trial(admin, author, member, cid)
    await s.claim(author, ids["trial_id"])

    # A paid meetup the author holds a place at (the order to refund), a collection the author started.
    ids["meetup_id"] = await s.meetup(admin, cid, feeFen=1000)
    place = await s.sign_up(author, ids["meetup_id"])
    seeded.extra["meetup_order_id"] = place["order"]["id"]
    ids["collection_id"] = await s.collection(author, cid, [member, owner])
    await s.pay_share(member, ids["collection_id"])
    settled = await s.collection(author, cid, [member])
    await s.pay_share(member, settled)
    ids["transfer_id"] = await s.settle(settled)

    # A paid community the author paid to enter (the entry order), an approval one with a pending request.
    paid = await s.community(owner, admin, name="付费读书会")
    await s.promote(owner, paid, admin)
    await s.call("PUT", f"/v1/communities/{paid}", owner, json={"entryMode": "paid", "priceFen": 990})
    entry = await s.join(author, paid)
    seeded.extra["paid_community_id"] = paid
    ids["order_id"] = entry["order"]["id"]
    approval = await s.community(owner, admin, author, member, name="审核制社群")
    await s.promote(owner, approval, admin)
    await s.call("PUT", f"/v1/communities/{approval}", owner, json={"entryMode": "approval"})
    seeded.extra["approval_community_id"] = approval
    ids["request_id"] = await s.join_request(users["stranger"], approval)

    ids["pool_id"] = await s.reward_pool(cid)
    return seeded


@contextlib.contextmanager
def seeder_in(live: LiveStack) -> Iterator[Seeder]:
    """A Seeder living on a LiveStack's event loop (call its coroutines through ``live.run``)."""
    assert live.stack is not None
    exits = contextlib.AsyncExitStack()
    seeder = live.run(exits.enter_async_context(seeder_for(live.stack)))
    try:
        yield seeder
    finally:
        live.run(exits.aclose())
