"""What `make bench` measures. Each domain adds its scenarios here; all are compared with `baseline`.

A scenario seeds what it needs (once, before the servers start) and names one request for wrk.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

import asyncpg

from service.settings import Settings


@dataclass
class Request:
    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    # Optional rotation: wrk cycles through these (headers, body) pairs instead of repeating one request.
    rotation: list[tuple[dict[str, str], str]] = field(default_factory=list)
    # Optional wrk Lua defining request(): for bodies generated on the fly.
    script: str | None = None
    # Optional: headers computed from each rotation body just before wrk starts (WeChat Pay's signature, which
    # goes stale after five minutes: signed when the run is seeded, a long run's later scenarios were refused).
    sign: Callable[[bytes], dict[str, str]] | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    describe: str
    # seed(conn, settings) -> the request to hammer; runs once against the benchmark database.
    seed: Callable[[asyncpg.Connection, Settings], Awaitable[Request]]
    goal: str = ""
    connections: int | None = None  # default: the run's --connections


async def seed_users(conn: asyncpg.Connection, count: int = 1000) -> list[int]:
    rows = await conn.fetch(
        "INSERT INTO users (appid, openid, nickname) "
        "SELECT 'bench', 'openid-' || g, 'user ' || g FROM generate_series(1, $1) g "
        "ON CONFLICT (appid, openid) DO UPDATE SET nickname = excluded.nickname RETURNING id",
        count,
    )
    return [row["id"] for row in rows]


async def _bare(conn: asyncpg.Connection, settings: Settings) -> Request:
    return Request("/bench/bare")


async def _baseline(conn: asyncpg.Connection, settings: Settings) -> Request:
    ids = await seed_users(conn)
    return Request(f"/bench/users/{ids[len(ids) // 2]}")


async def _me(conn: asyncpg.Connection, settings: Settings) -> Request:
    from service.core.tokens import issue_access_token

    ids = await seed_users(conn)
    token = issue_access_token(settings, ids[len(ids) // 2])
    return Request("/v1/me", headers={"Authorization": f"Bearer {token}"})


async def _session(conn: asyncpg.Connection, settings: Settings) -> Request:
    from service.core.tokens import issue_access_token

    ids = await seed_users(conn)
    return Request("/v1/auth/session", headers={"Authorization": f"Bearer {issue_access_token(settings, ids[0])}"})


async def _my_communities(conn: asyncpg.Connection, settings: Settings) -> Request:
    """A member of 50 communities of 100 members, 2,000 posts each, read a day ago (so each has unread posts)."""
    from service.core.tokens import issue_access_token

    ids = await seed_users(conn, 100)
    owner, me = ids[0], ids[1]
    communities = [
        r["id"]
        for r in await conn.fetch(
            "INSERT INTO communities (owner_id, name, welcome_template, member_cap, member_count) "
            "SELECT $1, 'community ' || g, 'Welcome {nickname}', 500, 100 FROM generate_series(1, 50) g RETURNING id",
            owner,
        )
    ]
    await conn.execute(
        "INSERT INTO memberships (community_id, user_id, role, via, last_read_at) "
        "SELECT c, u, CASE WHEN u = $3 THEN 'owner' ELSE 'member' END, CASE WHEN u = $3 THEN 'owner' ELSE 'free' END,"
        " now() - interval '1 day' FROM unnest($1::bigint[]) c, unnest($2::bigint[]) u",
        communities,
        ids,
        owner,
    )
    await conn.execute(
        "INSERT INTO posts (community_id, author_id, text, created_at) "
        "SELECT c, $2, 'post ' || g, now() - make_interval(mins => g * 3) "
        "FROM unnest($1::bigint[]) c, generate_series(1, 2000) g",
        communities,
        owner,
    )
    return Request(
        "/v1/me/communities?limit=20", headers={"Authorization": f"Bearer {issue_access_token(settings, me)}"}
    )


NOTIFY_ORDERS = 40_000  # more than wrk sends in one run, so every notification applies a payment


async def _notifications(conn: asyncpg.Connection, settings: Settings, apply: bool) -> Request:
    """Signed TRANSACTION.SUCCESS notifications for seeded orders, as WeChat Pay sends them."""
    import json
    import secrets

    from service.wechat.pay import aes_gcm_encrypt, signed_headers
    from service.wechat.sandbox.keys import load_dev_keys

    keys = load_dev_keys()  # the server loads the same development sandbox keys
    user_id = (await seed_users(conn, 1))[0]
    count = NOTIFY_ORDERS if apply else 1
    prefix = "bench-apply-" if apply else "bench-dup-"
    community_id = await conn.fetchval(
        "INSERT INTO communities (owner_id, name, welcome_template) VALUES ($1, 'bench orders', '') RETURNING id",
        user_id,
    )
    await conn.execute(
        "INSERT INTO orders (out_trade_no, payer_user_id, payer_openid, purpose, subject_id, community_id, "
        "description, amount_fen, time_expire) "
        "SELECT $1 || g, $2, 'openid-1', 'bench', g + $4, $5, 'bench', 100, now() + interval '1 day' "
        "FROM generate_series(1, $3) g",
        prefix,
        user_id,
        count,
        0 if apply else 10**9,
        community_id,
    )
    rotation = []
    for n in range(1, count + 1):
        transaction = {
            "appid": keys.appid,
            "mchid": keys.mchid,
            "out_trade_no": f"{prefix}{n}",
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "payer": {"openid": "openid-1"},
            "transaction_id": f"42000{secrets.token_hex(10)}",
            "bank_type": "OTHERS",
            "success_time": "2026-11-24T10:00:00+08:00",
            "amount": {"total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY"},
        }
        resource = aes_gcm_encrypt(keys.apiv3_key.encode(), json.dumps(transaction).encode(), "transaction")
        body = json.dumps(
            {
                "id": secrets.token_hex(16),
                "create_time": "2026-11-24T10:00:00+08:00",
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {**resource, "original_type": "transaction"},
            }
        )
        rotation.append(({}, body))
    sign = partial(signed_headers, keys.platform_key, keys.public_key_id)
    return Request("/v1/pay/notify", method="POST", rotation=rotation, sign=sign)


async def _notify_apply(conn: asyncpg.Connection, settings: Settings) -> Request:
    return await _notifications(conn, settings, apply=True)


async def _notify_duplicate(conn: asyncpg.Connection, settings: Settings) -> Request:
    return await _notifications(conn, settings, apply=False)


# Issue 24's goals against the bare limit, and the feed issue's against the in-app baseline.
FEED_GOAL = ">= 0.80 of bare; >= 0.60 req/s, p99 <= 3x"
UNCACHED_FEED_GOAL = ">= 0.40 of bare"

FEED_MEMBERS = 100
FEED_POSTS = 10_000
_feed_world: dict[str, object] = {}


async def _seed_feed(conn: asyncpg.Connection, settings: Settings) -> tuple[int, int]:
    """A community of 100 members and 10,000 posts over 30 days, with likes (about 3 % of members per post)
    and comments (0-6 per post, some replies), the counters on the rows as the API keeps them. Seeded once
    for both feed scenarios; returns (community id, the viewing member)."""
    if "community" in _feed_world:
        return _feed_world["community"], _feed_world["viewer"]
    members = (await seed_users(conn))[:FEED_MEMBERS]
    community_id = await conn.fetchval(
        "INSERT INTO communities (owner_id, name, welcome_template, member_count) VALUES ($1, 'bench feed', '', $2) "
        "RETURNING id",
        members[0],
        len(members),
    )
    await conn.execute(
        "INSERT INTO memberships (community_id, user_id, role, via) "
        "SELECT $1, u, CASE WHEN u = $2 THEN 'owner' ELSE 'member' END, CASE WHEN u = $2 THEN 'owner' ELSE 'free' END "
        "FROM unnest($3::bigint[]) u",
        community_id,
        members[0],
        members,
    )
    await conn.execute(
        "INSERT INTO posts (community_id, author_id, text, image_urls, created_at) "
        "SELECT $1, ($2::bigint[])[1 + g % $3], '今天的训练记录：第 ' || g || ' 次，配速 5 分 30 秒，感觉不错！', "
        "CASE WHEN g % 3 = 0 THEN ARRAY['https://cdn.example.com/' || g || '.jpg'] ELSE '{}' END, "
        "now() - make_interval(secs => (30 * 86400.0 * g / $4)) "
        "FROM generate_series(1, $4) g",
        community_id,
        members,
        len(members),
        FEED_POSTS,
    )
    await conn.execute(
        "INSERT INTO post_likes (post_id, user_id, community_id) "
        "SELECT p.id, u, $1 FROM posts p CROSS JOIN unnest($2::bigint[]) u "
        "WHERE p.community_id = $1 AND random() < 0.03",
        community_id,
        members,
    )
    await conn.execute(
        "INSERT INTO comments (community_id, post_id, author_id, text, created_at, counted_at) "
        "SELECT $1, p.id, ($2::bigint[])[1 + (p.id + n) % $3], '说得好，下次一起！', "
        "p.created_at + make_interval(mins => n), now() FROM posts p CROSS JOIN generate_series(1, 6) n "
        "WHERE p.community_id = $1 AND n <= p.id % 7",
        community_id,
        members,
        len(members),
    )
    await conn.execute(
        "INSERT INTO comments (community_id, post_id, parent_id, reply_to_id, author_id, text, created_at, counted_at) "
        "SELECT c.community_id, c.post_id, c.id, c.id, c.author_id, '谢谢！', c.created_at + interval '1 minute', "
        "now() FROM comments c WHERE c.community_id = $1 AND c.id % 4 = 0",
        community_id,
    )
    await conn.execute(
        "UPDATE posts p SET like_count = (SELECT count(*) FROM post_likes l WHERE l.post_id = p.id), "
        "comment_count = (SELECT count(*) FROM comments c WHERE c.post_id = p.id), share_count = p.id % 3 "
        "WHERE p.community_id = $1",
        community_id,
    )
    await conn.execute(
        "UPDATE comments c SET reply_count = (SELECT count(*) FROM comments r WHERE r.parent_id = c.id) "
        "WHERE c.community_id = $1 AND c.parent_id IS NULL",
        community_id,
    )
    _feed_world.update(community=community_id, viewer=members[len(members) // 2])
    return community_id, members[len(members) // 2]


async def _feed(conn: asyncpg.Connection, settings: Settings, order: str) -> Request:
    from service.core.tokens import issue_access_token

    community_id, viewer = await _seed_feed(conn, settings)
    token = issue_access_token(settings, viewer)
    return Request(
        f"/v1/communities/{community_id}/feed?order={order}&limit=20", headers={"Authorization": f"Bearer {token}"}
    )


async def _feed_latest(conn: asyncpg.Connection, settings: Settings) -> Request:
    return await _feed(conn, settings, "latest")


async def _feed_hot(conn: asyncpg.Connection, settings: Settings) -> Request:
    return await _feed(conn, settings, "hot")


SEARCH_POSTS = 100_000
# Sentences of a running club; each post joins three (so 跑步 is in about one post in five) and one post in
# 500 mentions the marathon.
_PHRASES = [
    "今天早上去跑步了",
    "周末一起去爬山吧",
    "配速五分三十秒",
    "晚上在江边骑车",
    "新买的跑鞋很舒服",
    "膝盖有点疼",
    "下周有没有人约",
    "天气太热了",
    "游泳一千米",
    "拉伸一定要做",
    "早睡早起身体好",
    "这家店的早餐不错",
    "公园的樱花开了",
    "打卡第十天",
    "教练说要多练核心",
    "雨天在家做瑜伽",
    "体重轻了两公斤",
    "路线推荐给大家",
]


async def _search(conn: asyncpg.Connection, settings: Settings, q: str) -> Request:
    """GET /v1/communities/{id}/search over 100,000 posts of one community (and its comments)."""
    from urllib.parse import quote

    from service.core.tokens import issue_access_token

    if not _search_world:
        members = (await seed_users(conn, 200))[:200]
        community_id = await conn.fetchval(
            "INSERT INTO communities (owner_id, name, welcome_template, member_cap, member_count) "
            "VALUES ($1, 'search bench', 'Welcome {nickname}', 500, $2) RETURNING id",
            members[0],
            len(members),
        )
        await conn.execute(
            "INSERT INTO memberships (community_id, user_id, role, via) "
            "SELECT $1, u, CASE WHEN u = $2 THEN 'owner' ELSE 'member' END, "
            "CASE WHEN u = $2 THEN 'owner' ELSE 'free' END FROM unnest($3::bigint[]) u",
            community_id,
            members[0],
            members,
        )
        print(f"  seeding {SEARCH_POSTS:,} posts for search ...", file=sys.stderr, flush=True)
        await conn.execute(
            "INSERT INTO posts (community_id, author_id, text, created_at) "
            "SELECT $1, ($2::bigint[])[1 + g % $3], "
            "($4::text[])[1 + (g * 7) % 18] || '，' || ($4::text[])[1 + (g * 11) % 17] || '，' "
            "|| ($4::text[])[1 + (g * 13) % 16]"
            " || '，第 ' || g || ' 次记录' || CASE WHEN g % 500 = 0 THEN '，报名了秋季马拉松' ELSE '' END, "
            "now() - make_interval(secs => g * 20) FROM generate_series(1, $5) g",
            community_id,
            members,
            len(members),
            _PHRASES,
            SEARCH_POSTS,
        )
        _search_world.update(community=community_id, reader=members[1])
    token = issue_access_token(settings, _search_world["reader"])
    return Request(
        f"/v1/communities/{_search_world['community']}/search?q={quote(q)}&limit=20",
        headers={"Authorization": f"Bearer {token}"},
    )


_search_world: dict[str, int] = {}


async def _search_rare(conn: asyncpg.Connection, settings: Settings) -> Request:
    return await _search(conn, settings, "马拉松")


async def _search_common(conn: asyncpg.Connection, settings: Settings) -> Request:
    return await _search(conn, settings, "跑步")


BASELINE = Scenario("baseline", "GET one user by primary key (one asyncpg SELECT)", _baseline)

SCENARIOS: list[Scenario] = [
    Scenario("bare", "GET a msgspec struct, no database", _bare),
    Scenario("me", "GET /v1/me: bearer token verified, then one primary-key SELECT", _me, goal=">= 0.90 req/s"),
    Scenario("session", "GET /v1/auth/session: bearer token verified, no database", _session),
    Scenario(
        "my_communities",
        "GET /v1/me/communities: 20 of my 50 communities, last activity, unread counts",
        _my_communities,
    ),
    # WeChat Pay sends notifications as payments happen: 16 at once is a busy merchant, not a flood.
    Scenario(
        "pay_notify",
        "POST /v1/pay/notify: verify, decrypt, apply a payment once",
        _notify_apply,
        goal="p99 < 50 ms",
        connections=16,
    ),
    Scenario(
        "pay_notify_dup",
        "POST /v1/pay/notify: a duplicate of an applied notification",
        _notify_duplicate,
        goal="p99 < 50 ms",
        connections=16,
    ),
    Scenario(
        "feed_latest",
        "GET a community feed page, latest (20 items: authors, counts, liked-by-me, first comments; one statement)",
        _feed_latest,
        goal=FEED_GOAL,
    ),
    Scenario(
        "feed_hot",
        "GET a community feed page, hot (the same page ordered by the stored time-decayed rank)",
        _feed_hot,
        goal=FEED_GOAL,
    ),
    Scenario(
        "search_rare",
        "GET a community search over 100,000 posts: a word in 1 post of 500 (200 hits), a page of 20",
        _search_rare,
    ),
    Scenario(
        "search_common",
        "GET a community search over 100,000 posts: 跑步, in 1 post of 6 (16,000 hits ranked), a page of 20",
        _search_common,
    ),
]
