"""A realistic mix of mini-program traffic over real HTTP, every acknowledged write remembered.

Members log in through the WeChat sandbox (a wx.login code, then `POST /v1/auth/login`), and virtual users act
for random members in a closed loop: read community feeds (latest and hot) and their own feed, post (WeChat's
content check included), send presence heartbeats and batches of view events, join free communities, join
paid ones and pay through the Pay sandbox (`POST /sandbox/pay`, which sends WeChat Pay's signed notification
to the API), and now and then create a community or log in again. Like WeChat Pay, the driver resends a
notification the API did not acknowledge (`POST /sandbox/pay/notifications/{id}/replay`).

Every answer is a `Sample` (phase, kind, milliseconds, status or transport error); every 2xx answer to a write
goes into `Acks`, which `verify.py` checks against the database.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import median

import httpx

POST_TEXTS = [
    "今天的晨跑打卡：5 公里，配速 5 分 40 秒，天气刚好。",
    "周末有人一起去爬山吗？路线已经规划好了，欢迎报名。",
    "分享一本最近在读的书，关于习惯养成，收获很多。",
    "新手求问：第一次参加线下活动需要准备什么？",
    "这周的主题活动大家完成了吗？晒一下你的成果吧！",
]
# Weights of what a member does next; paid joins also pay, which is the payment "kind".
MIX = {
    "feed": 30,
    "my_feed": 8,
    "heartbeat": 25,
    "events": 15,
    "post": 8,
    "join_free": 3,
    "join_paid": 4,
    "create_community": 0.6,
    "login": 0.4,
}
WRITES = ("post", "join_free", "join_paid", "pay", "events", "heartbeat", "create_community")


@dataclass
class Member:
    name: str
    user_id: int = 0
    access: str = ""
    refresh: str = ""
    communities: set[int] = field(default_factory=set)
    seen_posts: dict[int, list[int]] = field(default_factory=dict)  # community id -> posts of its last feed page
    refreshing: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


@dataclass(frozen=True)
class Sample:
    at: float  # monotonic seconds
    phase: str
    kind: str
    ms: float
    status: int | str  # HTTP status, or "refused" / "timeout" / "broken" when no answer came


@dataclass
class Payment:
    order_id: int
    user_id: int
    community_id: int
    out_trade_no: str
    transaction_id: str
    notification_id: str
    delivered: bool


@dataclass
class Acks:
    """What the service acknowledged with a 2xx: each must be in the database afterwards."""

    posts: dict[int, int] = field(default_factory=dict)  # post id -> community id
    joins: set[tuple[int, int]] = field(default_factory=set)  # (community id, user id), free joins
    orders: dict[int, tuple[int, int]] = field(default_factory=dict)  # order id -> (community id, user id)
    payments: dict[int, Payment] = field(default_factory=dict)  # paid at WeChat (the Pay sandbox answered 200)
    events: set[tuple[int, str]] = field(default_factory=set)  # (user id, client event id)
    sessions: set[int] = field(default_factory=set)  # presence session ids
    communities: set[int] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        return {name: len(value) for name, value in vars(self).items()}


class Load:
    def __init__(self, api_url: str, sandbox_url: str, *, members: int = 40, users: int = 12, seed: int = 1) -> None:
        limits = httpx.Limits(max_connections=users * 2, max_keepalive_connections=users * 2)
        self.api = httpx.AsyncClient(base_url=api_url, timeout=15, limits=limits)
        self.sandbox = httpx.AsyncClient(base_url=sandbox_url, timeout=15)
        self.random = random.Random(seed)
        self.members = [Member(f"soak-{seed}-{n}") for n in range(members)]
        self.users = users
        self.free: list[int] = []
        self.paid: list[int] = []
        self.phase = "setup"
        self.samples: list[Sample] = []
        self.acks = Acks()
        self.rejected_events: Counter = Counter()  # by code: a well-behaved client should see none
        self.undelivered: dict[str, float] = {}  # notification id -> when WeChat Pay sends it again
        self.resend_after = 2.0
        self._ids = itertools.count(1)
        self.tag = f"{seed}{int(time.time())}"

    async def aclose(self) -> None:
        await self.api.aclose()
        await self.sandbox.aclose()

    # --- requests -------------------------------------------------------------------------------------------

    async def call(
        self,
        kind: str,
        method: str,
        path: str,
        member: Member | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        **kw,
    ) -> httpx.Response | None:
        client = client or self.api
        headers = {**(member.headers if member else {}), **kw.pop("headers", {})}
        started = time.perf_counter()
        try:
            response = await client.request(method, path, headers=headers, **kw)
            status: int | str = response.status_code
        except httpx.TimeoutException:
            response, status = None, "timeout"
        except httpx.ConnectError:
            response, status = None, "refused"
        except httpx.TransportError:
            response, status = None, "broken"
        self.samples.append(Sample(time.monotonic(), self.phase, kind, (time.perf_counter() - started) * 1000, status))
        if response is None:
            await asyncio.sleep(0.1)  # the server is down: do not spin
        elif response.status_code == 401 and member and response.json().get("code") == "token_expired":
            await self.refresh(member)
        return response

    async def login(self, member: Member) -> bool:
        code = await self.call("wx_login", "POST", "/sandbox/wx-login", client=self.sandbox, json={"user": member.name})
        if code is None or code.status_code != 200:
            return False
        answer = await self.call("login", "POST", "/v1/auth/login", json={"code": code.json()["code"]})
        if answer is None or answer.status_code != 200:
            return False
        body = answer.json()
        member.user_id = int(body["user"]["id"])
        member.access, member.refresh = body["accessToken"], body["refreshToken"]
        return True

    async def refresh(self, member: Member) -> None:
        async with member.refreshing:
            answer = await self.call("refresh", "POST", "/v1/auth/refresh", json={"refreshToken": member.refresh})
            if answer is not None and answer.status_code == 200:
                member.access, member.refresh = answer.json()["accessToken"], answer.json()["refreshToken"]
            elif answer is not None and answer.status_code == 401:
                await self.login(member)

    # --- the world ------------------------------------------------------------------------------------------

    async def setup(self, free: int = 4, paid: int = 3) -> None:
        """Log every member in, create communities (one paid one with few places, so some payments are refused
        and refunded) and let every member join the free ones."""
        for start in range(0, len(self.members), 10):
            if not all(await asyncio.gather(*(self.login(m) for m in self.members[start : start + 10]))):
                raise RuntimeError("logging members in through the sandbox failed")
        for n in range(free + paid):
            owner = self.members[n % len(self.members)]
            await self.create_community(owner, paid=n >= free, cap=6 if n == free else 500)
        for member in self.members:
            await asyncio.gather(*(self.join_free(member, c) for c in self.free if c not in member.communities))
        self.phase = "run"

    async def create_community(self, owner: Member, *, paid: bool, cap: int = 500) -> None:
        body = {"name": f"社群 {next(self._ids)}", "memberCap": cap, "welcomeTemplate": "欢迎 {nickname}！"}
        if paid:
            body.update(entryMode="paid", priceFen=self.random.choice([990, 1990, 4990]))
        answer = await self.call("create_community", "POST", "/v1/communities", owner, json=body)
        if answer is not None and answer.status_code == 201:
            community = int(answer.json()["id"])
            self.acks.communities.add(community)
            owner.communities.add(community)
            (self.paid if paid else self.free).append(community)

    async def join_free(self, member: Member, community: int) -> None:
        key = {"Idempotency-Key": f"join-{community}-{member.user_id}"}
        answer = await self.call("join_free", "POST", f"/v1/communities/{community}/join", member, headers=key)
        if answer is not None and answer.status_code in (200, 201):
            if answer.status_code == 201:
                self.acks.joins.add((community, member.user_id))
            member.communities.add(community)

    async def join_paid(self, member: Member, community: int, *, pay: bool = True) -> None:
        key = {"Idempotency-Key": f"join-{community}-{member.user_id}"}
        answer = await self.call("join_paid", "POST", f"/v1/communities/{community}/join", member, headers=key)
        if answer is None or answer.status_code not in (200, 201):
            return
        body = answer.json()
        if body["outcome"] == "already_member":
            member.communities.add(community)
            return
        order = body["order"]
        self.acks.orders[int(order["id"])] = (community, member.user_id)
        if not pay or order.get("payment") is None or self.random.random() < 0.1:
            return  # a tenth close the payment sheet: the order stays unpaid until paid later or expired
        if self.random.random() < 0.3:
            await asyncio.sleep(self.random.uniform(0.2, 1.5))  # the member hesitates in the payment sheet
        prepay_id = order["payment"]["package"].removeprefix("prepay_id=")
        paid = await self.call("pay", "POST", "/sandbox/pay", client=self.sandbox, json={"prepayId": prepay_id})
        if paid is None or paid.status_code != 200:
            return
        result = paid.json()
        delivered = result["deliveredStatus"] in (200, 204)
        self.acks.payments[int(order["id"])] = Payment(
            int(order["id"]),
            member.user_id,
            community,
            result["outTradeNo"],
            result["transactionId"],
            result["notificationId"],
            delivered,
        )
        if not delivered:
            self.undelivered[result["notificationId"]] = time.monotonic() + self.resend_after
            return
        # The mini program reads the order once the payment sheet closes: paid and not refunded means admitted.
        status = await self.call("order", "GET", f"/v1/orders/{order['id']}", member)
        if status is not None and status.status_code == 200:
            if status.json()["status"] == "paid" and not status.json()["refunds"]:
                member.communities.add(community)

    async def resend_notifications(self, stop: asyncio.Event) -> None:
        """WeChat Pay's retries: an unacknowledged notification is sent again until the API answers 2xx."""
        while not stop.is_set():
            now = time.monotonic()
            for notification, due in list(self.undelivered.items()):
                if due > now:
                    continue
                answer = await self.call(
                    "notify_retry", "POST", f"/sandbox/pay/notifications/{notification}/replay", client=self.sandbox
                )
                if answer is not None and answer.status_code == 200 and answer.json()["deliveredStatus"] in (200, 204):
                    del self.undelivered[notification]
                else:
                    self.undelivered[notification] = now + self.resend_after
            await asyncio.sleep(0.2)

    # --- one action -----------------------------------------------------------------------------------------

    async def act(self) -> None:
        member = self.random.choice(self.members)
        kind = self.random.choices(list(MIX), weights=list(MIX.values()))[0]
        mine = sorted(member.communities & set(self.free + self.paid))
        if kind in ("feed", "heartbeat", "post", "events") and not mine:
            kind = "join_free"
        if kind == "feed":
            order = self.random.choice(["latest", "hot"])
            community = self.random.choice(mine)
            answer = await self.call(
                "feed", "GET", f"/v1/communities/{community}/feed", member, params={"order": order, "limit": 20}
            )
            if answer is not None and answer.status_code == 200:
                member.seen_posts[community] = [int(item["id"]) for item in answer.json()["items"]]
        elif kind == "my_feed":
            await self.call("my_feed", "GET", "/v1/feed", member, params={"limit": 20})
        elif kind == "heartbeat":
            body = {"communityId": str(self.random.choice(mine))}
            answer = await self.call("heartbeat", "POST", "/v1/presence/heartbeat", member, json=body)
            if answer is not None and answer.status_code == 200:
                self.acks.sessions.add(int(answer.json()["sessionId"]))
        elif kind == "events":
            await self.events(member, self.random.choice(mine))
        elif kind == "post":
            community = self.random.choice(mine)
            text = f"{self.random.choice(POST_TEXTS)} #{next(self._ids)}"
            answer = await self.call("post", "POST", f"/v1/communities/{community}/posts", member, json={"text": text})
            if answer is not None and answer.status_code == 201:
                self.acks.posts[int(answer.json()["id"])] = community
        elif kind == "join_free":
            choices = [c for c in self.free if c not in member.communities]
            if choices:
                await self.join_free(member, self.random.choice(choices))
        elif kind == "join_paid":
            choices = [c for c in self.paid if c not in member.communities]
            if choices:
                await self.join_paid(member, self.random.choice(choices))
        elif kind == "create_community":
            await self.create_community(member, paid=self.random.random() < 0.5)
        elif kind == "login":
            await self.login(member)

    async def events(self, member: Member, community: int) -> None:
        at = datetime.now(UTC).isoformat()
        events = []
        seen = member.seen_posts.get(community)
        for _ in range(self.random.randint(5, 30)):
            event_id = f"e{self.tag}-{next(self._ids)}"
            if seen and self.random.random() < 0.8:
                post = self.random.choice(seen)
                events.append(
                    {
                        "id": event_id,
                        "type": "post_view",
                        "communityId": str(community),
                        "postId": str(post),
                        "at": at,
                        "dwellMs": self.random.randint(500, 20000),
                    }
                )
            else:
                events.append(
                    {"id": event_id, "type": "page_view", "communityId": str(community), "page": "pages/home", "at": at}
                )
        answer = await self.call("events", "POST", "/v1/events", member, json={"events": events})
        if answer is not None and answer.status_code == 200:
            rejected = {r["index"] for r in answer.json()["rejected"]}
            self.rejected_events.update(r["code"] for r in answer.json()["rejected"])
            self.acks.events.update((member.user_id, e["id"]) for i, e in enumerate(events) if i not in rejected)

    # --- running --------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Virtual users act until `stop` is set; WeChat Pay's resends run beside them."""

        async def user() -> None:
            while not stop.is_set():
                await self.act()

        await asyncio.gather(self.resend_notifications(stop), *(user() for _ in range(self.users)))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(samples: list[Sample]) -> dict[str, dict]:
    """Per kind: count, p50 and p99 of the answered requests, and answers by status."""
    by_kind: dict[str, list[Sample]] = {}
    for sample in samples:
        by_kind.setdefault(sample.kind, []).append(sample)
    table = {}
    for kind, items in sorted(by_kind.items()):
        answered = [s.ms for s in items if isinstance(s.status, int)]
        table[kind] = {
            "count": len(items),
            "p50": median(answered) if answered else 0.0,
            "p99": percentile(answered, 0.99),
            "statuses": Counter(s.status for s in items),
        }
    return table


def failures(samples: list[Sample]) -> Counter:
    """Answers that are a fault of the service: 5xx other than a 503 with its Retry-After, and no answer."""
    return Counter(s.status for s in samples if not isinstance(s.status, int) or s.status >= 500 and s.status != 503)
