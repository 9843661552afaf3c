"""What `make bench` measures. Each domain adds its scenarios here; all are compared with `baseline`.

A scenario seeds what it needs (once, before the servers start) and names one request for wrk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

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
    from service.auth.tokens import issue_access_token

    ids = await seed_users(conn)
    token = issue_access_token(settings, ids[len(ids) // 2])
    return Request("/v1/me", headers={"Authorization": f"Bearer {token}"})


async def _session(conn: asyncpg.Connection, settings: Settings) -> Request:
    from service.auth.tokens import issue_access_token

    ids = await seed_users(conn)
    return Request("/v1/auth/session", headers={"Authorization": f"Bearer {issue_access_token(settings, ids[0])}"})


async def _my_communities(conn: asyncpg.Connection, settings: Settings) -> Request:
    """A member of 50 communities of 100 members, 2,000 posts each, read a day ago (so each has unread posts)."""
    from service.auth.tokens import issue_access_token

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

    from service.wechat.pay import aes_gcm_encrypt, load_dev_keys, signed_headers

    keys = load_dev_keys()  # the server loads the same development sandbox keys
    user_id = (await seed_users(conn, 1))[0]
    count = NOTIFY_ORDERS if apply else 1
    prefix = "bench-apply-" if apply else "bench-dup-"
    await conn.execute(
        "INSERT INTO orders (out_trade_no, payer_user_id, payer_openid, purpose, subject_id, description, "
        "amount_fen, time_expire) "
        "SELECT $1 || g, $2, 'openid-1', 'bench', g + $4, 'bench', 100, now() + interval '1 day' "
        "FROM generate_series(1, $3) g",
        prefix,
        user_id,
        count,
        0 if apply else 10**9,
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
        rotation.append((signed_headers(keys.platform_key, keys.public_key_id, body.encode()), body))
    return Request("/v1/pay/notify", method="POST", rotation=rotation)


async def _notify_apply(conn: asyncpg.Connection, settings: Settings) -> Request:
    return await _notifications(conn, settings, apply=True)


async def _notify_duplicate(conn: asyncpg.Connection, settings: Settings) -> Request:
    return await _notifications(conn, settings, apply=False)


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
]
