"""Account deletion (注销, docs/privacy.md) over HTTP: the cooling-off, what cancels it, what refuses it, and what the
erasure leaves: no trace of the member's identity anywhere in the database, the money whole, the threads readable,
tokens dead at once in every API process, and a later login a new, empty account."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from service.auth.deletion import erase_due
from service.core.domain import install
from service.core.money import ledger_violations
from service.core.privacy import ERASED_NICKNAME, declared_tables
from service.db.pool import create_pool
from service.domains import DOMAINS
from tests.feed.conftest import World
from tests.privacy_world import NICKNAME, PHONE, REPORT_NOTE, PrivacyWorld, privacy_world
from tests.support import api_client
from tests.wechat_support import bearer, login, refresh_first, wait_for_lock_waiters
from tests.world import Member, assert_problem, sign_in

NO_DELETION = {"pending": False, "requestedAt": None, "dueAt": None}

# What the export of the seeded, enriched author must hold: every kind it lists.
FILLED = (
    "collections",
    "memberships",
    "posts",
    "comments",
    "likes",
    "votes",
    "proposals",
    "trials",
    "pointSpends",
    "checkIns",
    "meetupSignups",
    "orders",
    "refunds",
    "transfers",
    "reports",
    "notifications",
    "uploads",
    "blocks",
    "rewards",
)


@pytest.fixture
async def world(database_url: str, pay_keys) -> PrivacyWorld:
    async with privacy_world(database_url, pay_keys) as running:
        yield running


async def traces(conn: asyncpg.Connection, needles: list[str]) -> list[str]:
    """Every table.column whose text holds one of the needles: every text, json and array column of every table."""
    columns = await conn.fetch(
        """SELECT table_name, column_name FROM information_schema.columns
           WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY')"""
    )
    patterns = [f"%{needle}%" for needle in needles]
    found = []
    for table, column in columns:
        sql = f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE ANY($1::text[])'  # noqa: S608 - catalog names
        if await conn.fetchval(sql, patterns):
            found.append(f"{table}.{column}")
    return found


async def test_the_export_holds_everything_and_the_erasure_leaves_no_trace(world: PrivacyWorld):
    author, member = world.author, world.seeded.users["member"]
    identity = await world.identity("author")
    needles = [identity["openid"], identity["unionid"], PHONE, NICKNAME]
    pool = world.seeder.pool

    mine = await world.export(author.headers)
    assert [section for section in FILLED if not mine[section]] == []
    assert mine["profile"]["nickname"] == NICKNAME and mine["profile"]["phoneNumber"] == f"+86{PHONE}"
    assert mine["profile"]["unionid"] == identity["unionid"] and mine["profile"]["openid"] == identity["openid"]
    assert [r["note"] for r in mine["reports"]] == [REPORT_NOTE]
    assert {t["deliveryNote"] for t in mine["trials"]} == {"上海市徐汇区某路 1 号"}
    (spend,) = mine["pointSpends"]
    assert (spend["points"], spend["refundedAt"]) == (30, None)
    assert spend["trialId"] in {t["id"] for t in mine["trials"] if t["reason"] == "redeemed"}
    async with pool.acquire() as conn:
        assert await traces(conn, needles), "the world must hold the identity before the erasure"

    joined = await pool.fetch(
        """SELECT c.id, c.member_count FROM communities c JOIN memberships m ON m.community_id = c.id
           WHERE m.user_id = $1 AND m.status = 'active'""",
        int(author.id),
    )
    side_effects = "SELECT (SELECT count(*) FROM community_audit_log), (SELECT count(*) FROM posts)"
    before_effects = tuple(await pool.fetchrow(side_effects))

    started = await world.api.delete("/v1/me", headers=author.headers)
    assert started.status_code == 202, started.text
    assert started.json()["pending"] is True
    again = await world.api.delete("/v1/me", headers=author.headers)
    assert again.status_code == 202 and again.json() == started.json()  # idempotent
    shown = await world.api.get("/v1/me/deletion", headers=author.headers)
    assert shown.json() == started.json()
    refreshed = await world.api.post("/v1/auth/refresh", json={"refreshToken": author.tokens["refreshToken"]})
    assert_problem(refreshed, 401, "invalid_refresh_token")  # every session ended with the request

    # The author's collection payout waits for their confirmation in WeChat: money in flight postpones the erasure.
    await world.erase_due(author.id)
    assert await pool.fetchval("SELECT erased_at FROM users WHERE id = $1", int(author.id)) is None
    out_bill_no = await pool.fetchval("SELECT out_bill_no FROM transfers WHERE payee_user_id = $1", int(author.id))
    await world.stack.sandbox.control("POST", "/sandbox/pay/transfers", json={"outBillNo": out_bill_no})
    await world.seeder.run_due_jobs()
    await world.erase_due(author.id)

    assert_problem(await world.api.get("/v1/me", headers=author.headers), 401, "unauthorized")
    async with pool.acquire() as conn:
        assert await traces(conn, needles) == []
        assert await ledger_violations(conn) == []
        kept = await conn.fetch("SELECT payer_openid FROM orders WHERE payer_user_id = $1", int(author.id))
        tombstone = await conn.fetchval("SELECT openid FROM users WHERE id = $1", int(author.id))
    assert kept and {row["payer_openid"] for row in kept} == {tombstone}  # the money under one pseudonym
    # Memberships ended quietly: the counts follow, no audit entry, no greeting post.
    ids = [row["id"] for row in joined]
    counts = dict(await pool.fetch("SELECT id, member_count FROM communities WHERE id = ANY($1)", ids))
    assert counts == {row["id"]: row["member_count"] - 1 for row in joined}
    assert tuple(await pool.fetchrow(side_effects)) == before_effects
    assert await pool.fetchval("SELECT count(*) FROM media WHERE owner_id = $1", int(author.id)) == 0
    await world.run_kind("media.files")  # the avatar's stored files go too
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'media.files' AND status <> 'done'") == 0
    assert await pool.fetchval("SELECT count(*) FROM media_objects WHERE NOT EXISTS (SELECT FROM media)") == 0

    # The thread stays readable: the post and the author's comment, by a deleted member.
    cid, post_id = world.seeded.ids["community_id"], world.seeded.ids["post_id"]
    feed = await world.seeder.call("GET", f"/v1/communities/{cid}/feed", member)
    (post,) = [item for item in feed["items"] if item["id"] == post_id]
    assert post["author"]["nickname"] == ERASED_NICKNAME and post["text"]
    comments = await world.seeder.call("GET", f"/v1/posts/{post_id}/comments", member)
    assert {c["author"]["nickname"] for c in comments["items"] if c["author"]["id"] == author.id} == {ERASED_NICKNAME}
    members = await world.seeder.call("GET", f"/v1/communities/{cid}/members", member)
    assert author.id not in {m["userId"] for m in members["items"]}

    # The same WeChat account later: a new, empty account.
    back = await world.login("author")
    assert back["newUser"] is True and back["user"]["id"] != author.id and back["deletionCancelled"] is False
    fresh = await world.export({"authorization": f"Bearer {back['accessToken']}"})
    assert [section for section in FILLED if fresh[section]] == []
    assert fresh["profile"]["nickname"] == ""


async def _erase_now(settings, user_id: int) -> None:
    pool = await create_pool(settings)
    try:
        await pool.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", user_id)
        assert await erase_due(pool) == 1
    finally:
        await pool.close()


async def _welcomes(database_url: str, cid: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        sql = "SELECT text FROM posts WHERE community_id = $1 AND kind = 'welcome' ORDER BY id"
        rows = await conn.fetch(sql, int(cid))
    finally:
        await conn.close()
    return [row["text"] for row in rows]


async def test_the_erasure_unnames_the_welcome_post_of_every_join(client, sandbox, settings, database_url):
    """A member who left and came back was greeted twice: neither greeting names them after the erasure."""
    world = World(client, sandbox)
    owner, zoe = await world.member("owner"), await world.member("zoe-runner")
    cid = await world.community(owner, zoe, name="晨跑俱乐部", welcomeTemplate="欢迎 {nickname} 加入{community}！")
    assert (await client.delete(f"/v1/communities/{cid}/members/me", headers=zoe.headers)).is_success
    assert (await client.post(f"/v1/communities/{cid}/join", headers=zoe.headers)).status_code == 201
    assert await _welcomes(database_url, cid) == ["欢迎 zoe-runner 加入晨跑俱乐部！"] * 2

    assert (await client.delete("/v1/me", headers=zoe.headers)).status_code == 202
    await _erase_now(settings, zoe.id)
    assert await _welcomes(database_url, cid) == [f"欢迎 {ERASED_NICKNAME} 加入晨跑俱乐部！"] * 2


async def test_the_erasure_unnames_a_welcome_post_that_greeted_a_former_nickname(
    client, sandbox, settings, database_url
):
    """The greeting names the nickname the member had when they joined; only that place in it changes (the new
    nickname, also a word of the community's name, does not)."""
    world = World(client, sandbox)
    owner, zoe = await world.member("owner"), await world.member("zoe-runner")
    cid = await world.community(owner, zoe, name="晨跑俱乐部", welcomeTemplate="欢迎 {nickname} 加入{community}！")
    renamed = await client.put("/v1/me", json={"nickname": "俱乐部"}, headers=zoe.headers)
    assert renamed.status_code == 200, renamed.text

    assert (await client.delete("/v1/me", headers=zoe.headers)).status_code == 202
    await _erase_now(settings, zoe.id)
    assert await _welcomes(database_url, cid) == [f"欢迎 {ERASED_NICKNAME} 加入晨跑俱乐部！"]


async def test_a_login_during_the_cooling_off_cancels_it(client, sandbox, settings):
    world = World(client, sandbox)
    alice = await world.member("alice")
    assert (await client.get("/v1/me/deletion", headers=alice.headers)).json() == NO_DELETION
    started = await client.delete("/v1/me", headers=alice.headers)
    assert started.status_code == 202, started.text
    assert started.json()["dueAt"] > started.json()["requestedAt"]

    back = await sign_in(client, sandbox, "alice")
    login = await client.post("/v1/auth/login", json={"code": await sandbox.wx_login("alice")})
    assert login.json()["deletionCancelled"] is False  # the first login after the request cancelled it already
    assert (await client.get("/v1/me/deletion", headers=back.headers)).json() == NO_DELETION
    pool = await create_pool(settings)
    try:
        assert await erase_due(pool) == 0
    finally:
        await pool.close()
    assert (await client.get("/v1/me", headers=back.headers)).json()["nickname"] == "alice"


async def test_the_deletion_request_also_revokes_the_token_of_a_refresh_in_flight(client, sandbox, database_url):
    """The app refreshes in the background as the member taps 注销: every session ends, that refresh's new token too."""
    alice = await login(client, sandbox.url, "alice")
    deleting = client.delete("/v1/me", headers=bearer(alice))
    refreshed, deleted = await refresh_first(database_url, client, alice["refreshToken"], deleting)
    assert deleted.status_code == 202, deleted.text
    assert refreshed.status_code == 200, refreshed.text  # it came first

    after = await client.post("/v1/auth/refresh", json={"refreshToken": refreshed.json()["refreshToken"]})
    assert_problem(after, 401, "invalid_refresh_token")


async def _until_wechat_holds_it(sandbox) -> None:
    """Until the request that takes the sandbox's one slow answer reached WeChat (it passed the token check)."""
    for _ in range(250):
        if sandbox.state.fault is None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the request never reached WeChat")


async def _identity(database_url: str, user_id: int) -> tuple[str | None, str]:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow("SELECT phone, nickname FROM users WHERE id = $1", user_id)
    finally:
        await conn.close()
    return row["phone"], row["nickname"]


async def test_a_phone_binding_waiting_on_wechat_as_the_erasure_commits_leaves_no_number(
    client, sandbox, settings, database_url
):
    """The token was good when the request came; WeChat answers after the erasure: no number on the tombstone."""
    alice = await sign_in(client, sandbox, "alice")
    code = await sandbox.phone_code("alice", "13800138000")
    assert (await client.delete("/v1/me", headers=alice.headers)).status_code == 202
    await sandbox.fault("slow", count=1, delay=2.0, path_prefix="/wxa/business/getuserphonenumber")
    binding = asyncio.create_task(client.post("/v1/auth/phone", json={"code": code}, headers=alice.headers))
    await _until_wechat_holds_it(sandbox)
    await _erase_now(settings, alice.id)
    assert_problem(await binding, 401, "unauthorized")
    assert await _identity(database_url, alice.id) == (None, ERASED_NICKNAME)


async def test_a_nickname_waiting_on_wechat_as_the_erasure_commits_is_not_stored(
    client, sandbox, settings, database_url
):
    """The nickname's content check answers after the erasure: the tombstone keeps its name."""
    alice = await sign_in(client, sandbox, "alice")
    assert (await client.delete("/v1/me", headers=alice.headers)).status_code == 202
    await sandbox.fault("slow", count=1, delay=2.0, path_prefix="/wxa/msg_sec_check")
    renaming = asyncio.create_task(client.put("/v1/me", json={"nickname": "爱丽丝"}, headers=alice.headers))
    await _until_wechat_holds_it(sandbox)
    await _erase_now(settings, alice.id)
    assert_problem(await renaming, 401, "unauthorized")
    assert await _identity(database_url, alice.id) == (None, ERASED_NICKNAME)


# What a member may have written, by table: the rows of one member the erasure must not find written after it.
WRITTEN = {
    "communities": "SELECT count(*) FROM communities WHERE owner_id = $1",
    "posts": "SELECT count(*) FROM posts WHERE author_id = $1 AND kind = 'post'",
    "comments": "SELECT count(*) FROM comments WHERE author_id = $1",
    "invites": "SELECT count(*) FROM invites WHERE created_by = $1",
    "memberships": "SELECT count(*) FROM memberships WHERE user_id = $1 AND status = 'active'",
    "interest_preferences": "SELECT count(*) FROM interest_preferences WHERE user_id = $1",
}


async def _written(database_url: str, user_id: int) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        return {table: await conn.fetchval(sql, user_id) for table, sql in WRITTEN.items()}
    finally:
        await conn.close()


async def _sent_as_the_erasure_commits(settings, database_url: str, user_id: int, write) -> httpx.Response:
    """`write` is sent while the member's erasure is under way: it has taken the member and stops before its last
    step (a test connection holds `account_deletions` only to stop it there), so the token is still good. The
    erasure goes on once `write` waits for a lock too; `write`'s answer."""
    holder = await asyncpg.connect(database_url)
    pool = await create_pool(settings)
    try:
        await pool.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", user_id)
        tx = holder.transaction()
        await tx.start()
        await holder.execute("LOCK TABLE account_deletions IN SHARE MODE")
        erasing = asyncio.create_task(erase_due(pool))
        await wait_for_lock_waiters(holder, 1)
        writing = asyncio.create_task(write)
        await wait_for_lock_waiters(holder, 2)
        await tx.rollback()
        assert await erasing == 1
        return await writing
    finally:
        await pool.close()
        await holder.close()


@dataclass(frozen=True)
class Leaving:
    """Alice, a member of Bob's community (`cid`, with Bob's post `post_id`) but not of his other one (`other`),
    has asked to delete her account."""

    alice: Member
    cid: str
    post_id: str
    other: str


async def _leaving(client, sandbox) -> Leaving:
    world = World(client, sandbox)
    bob, alice = await world.member("bob"), await world.member("alice")
    cid = await world.community(bob, alice)
    post = await world.post(bob, cid, "周六早上七点，西湖边集合")
    other = await world.community(bob, name="夜骑")
    assert (await client.delete("/v1/me", headers=alice.headers)).status_code == 202
    return Leaving(alice, cid, post["id"], other)


WRITES = {
    "community": lambda client, at: client.post("/v1/communities", json={"name": "夜跑团"}, headers=at.alice.headers),
    "post": lambda client, at: client.post(
        f"/v1/communities/{at.cid}/posts", json={"text": "我也来跑步"}, headers=at.alice.headers
    ),
    "comment": lambda client, at: client.post(
        f"/v1/posts/{at.post_id}/comments", json={"text": "算我一个"}, headers=at.alice.headers
    ),
    "invite": lambda client, at: client.post(f"/v1/communities/{at.cid}/invites", json={}, headers=at.alice.headers),
    "join": lambda client, at: client.post(f"/v1/communities/{at.other}/join", headers=at.alice.headers),
    "interests": lambda client, at: client.put(
        "/v1/me/interest-settings", json={"introductions": False}, headers=at.alice.headers
    ),
}


@pytest.mark.parametrize("kind", sorted(WRITES))
async def test_a_write_sent_as_the_erasure_commits_is_refused(client, sandbox, settings, database_url, kind):
    """The token was checked before the erasure committed: the write waits for it, then finds a tombstone (401)
    and leaves nothing under it (a community owned by nobody, a post of an erased member)."""
    at = await _leaving(client, sandbox)
    write = WRITES[kind](client, at)
    assert_problem(await _sent_as_the_erasure_commits(settings, database_url, at.alice.id, write), 401, "unauthorized")
    assert await _written(database_url, at.alice.id) == dict.fromkeys(WRITTEN, 0)


@pytest.mark.parametrize("kind", ["post", "comment"])
async def test_a_text_waiting_on_wechat_as_the_erasure_commits_is_not_stored(
    client, sandbox, settings, database_url, kind
):
    """The content check answers after the erasure committed: nothing is stored, and the answer says the session
    is over (401), not that she is no member."""
    at = await _leaving(client, sandbox)
    await sandbox.fault("slow", count=1, delay=2.0, path_prefix="/wxa/msg_sec_check")
    writing = asyncio.create_task(WRITES[kind](client, at))
    await _until_wechat_holds_it(sandbox)
    await _erase_now(settings, at.alice.id)
    assert_problem(await writing, 401, "unauthorized")
    assert await _written(database_url, at.alice.id) == dict.fromkeys(WRITTEN, 0)


async def test_a_post_edit_waiting_on_wechat_as_the_erasure_commits_is_not_stored(
    client, sandbox, settings, database_url
):
    """An edit's transaction checked only that the post is hers, which the erasure leaves (her posts stay, unnamed):
    its content check answers after the erasure committed, and the edit is refused (401) as a new post is, the text
    unchanged (it was stored, then answered 403 not_member)."""
    world = World(client, sandbox)
    bob, alice = await world.member("bob"), await world.member("alice")
    cid = await world.community(bob, alice)
    written = "周六早上七点，西湖边集合"
    post = await world.post(alice, cid, written)
    assert (await client.delete("/v1/me", headers=alice.headers)).status_code == 202
    await sandbox.fault("slow", count=1, delay=2.0, path_prefix="/wxa/msg_sec_check")
    body = {"text": "改到周日早上七点"}
    editing = asyncio.create_task(client.put(f"/v1/posts/{post['id']}", json=body, headers=alice.headers))
    await _until_wechat_holds_it(sandbox)
    await _erase_now(settings, alice.id)
    answer = await editing
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT text FROM posts WHERE id = $1", int(post["id"])) == written
    finally:
        await conn.close()
    assert_problem(answer, 401, "unauthorized")


async def test_a_write_under_way_when_the_erasure_comes_is_erased_at_its_next_run(
    client, sandbox, settings, database_url
):
    """The post holds the account (it stops at its insert, a test connection holding `posts` only to stop it there):
    the erasure passes the member over without waiting, the post is stored, and the next run erases the account."""
    at = await _leaving(client, sandbox)
    holder = await asyncpg.connect(database_url)
    pool = await create_pool(settings)
    try:
        await pool.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", at.alice.id)
        tx = holder.transaction()
        await tx.start()
        await holder.execute("LOCK TABLE posts IN SHARE MODE")
        posting = asyncio.create_task(WRITES["post"](client, at))
        await wait_for_lock_waiters(holder, 1)
        assert await erase_due(pool) == 0
        await tx.rollback()
        assert (await posting).status_code == 201
        assert await erase_due(pool) == 1
    finally:
        await pool.close()
        await holder.close()
    assert await _written(database_url, at.alice.id) == {**dict.fromkeys(WRITTEN, 0), "posts": 1}  # kept, unnamed
    assert await _identity(database_url, at.alice.id) == (None, ERASED_NICKNAME)


async def test_the_login_answer_says_the_deletion_was_cancelled(client, sandbox):
    alice = await sign_in(client, sandbox, "alice")
    assert (await client.delete("/v1/me", headers=alice.headers)).status_code == 202
    login = await client.post("/v1/auth/login", json={"code": await sandbox.wx_login("alice")})
    assert login.status_code == 200 and login.json()["deletionCancelled"] is True
    assert login.json()["newUser"] is False and login.json()["user"]["id"] == str(alice.id)


async def test_an_owner_must_transfer_ownership_first(client, sandbox):
    world = World(client, sandbox)
    owner, bob = await world.member("owner"), await world.member("bob")
    cid = await world.community(owner, bob, name="读书会")
    refused = assert_problem(await client.delete("/v1/me", headers=owner.headers), 409, "owner_must_transfer")
    assert "转让" in refused["userMessage"] and "读书会" in refused["detail"]
    assert (await client.get("/v1/me/deletion", headers=owner.headers)).json() == NO_DELETION

    handed = await client.post(
        f"/v1/communities/{cid}/ownership-transfer", json={"userId": str(bob.id)}, headers=owner.headers
    )
    assert handed.status_code == 200, handed.text
    assert (await client.delete("/v1/me", headers=owner.headers)).status_code == 202


async def test_a_brand_owner_is_stopped_like_a_community_owner(client, sandbox):
    world = World(client, sandbox)
    owner, bob = await world.member("owner"), await world.member("bob")
    brand = await client.post("/v1/brands", json={"name": "山野跑团"}, headers=owner.headers)
    assert brand.status_code == 201, brand.text
    added = await client.put(f"/v1/brands/{brand.json()['id']}/admins/{bob.id}", headers=owner.headers)
    assert added.status_code == 200, added.text
    refused = assert_problem(await client.delete("/v1/me", headers=owner.headers), 409, "owner_must_transfer")
    assert "山野跑团" in refused["detail"] and "转让" in refused["userMessage"]
    assert (await client.get("/v1/me/deletion", headers=owner.headers)).json() == NO_DELETION

    brand_id = brand.json()["id"]
    stranger = await world.member("stranger")
    body = {"userId": str(stranger.id)}
    refused = await client.post(f"/v1/brands/{brand_id}/ownership-transfer", json=body, headers=owner.headers)
    assert_problem(refused, 404, "not_found")  # only to one of the brand's admins
    body = {"userId": str(bob.id)}
    handed = await client.post(f"/v1/brands/{brand_id}/ownership-transfer", json=body, headers=owner.headers)
    assert handed.status_code == 200, handed.text
    assert [(t["userId"], t["role"]) for t in handed.json()["team"]] == [
        (str(bob.id), "owner"),
        (str(owner.id), "admin"),
    ]
    again = await client.post(f"/v1/brands/{brand_id}/ownership-transfer", json=body, headers=owner.headers)
    assert_problem(again, 403, "forbidden")  # no longer the owner
    assert (await client.delete("/v1/me", headers=owner.headers)).status_code == 202  # a brand admin may go
    assert_problem(await client.delete("/v1/me", headers=bob.headers), 409, "owner_must_transfer")


async def test_tokens_die_at_once_in_every_api_process(client, sandbox, settings):
    """Two API processes running, a third started after the erasure: none takes the erased member's token."""
    alice = await sign_in(client, sandbox, "alice")
    assert (await client.delete("/v1/me", headers=alice.headers)).status_code == 202
    async with api_client(settings) as other:
        assert (await other.get("/v1/me", headers=alice.headers)).status_code == 200
        pool = await create_pool(settings)
        try:
            await pool.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", alice.id)
            assert await erase_due(pool) == 1
        finally:
            await pool.close()
        for api in (client, other):
            for _ in range(50):  # the NOTIFY reaches each process within milliseconds
                if (await api.get("/v1/me", headers=alice.headers)).status_code == 401:
                    break
                await asyncio.sleep(0.02)
            assert_problem(await api.get("/v1/me", headers=alice.headers), 401, "unauthorized")
    async with api_client(settings) as later:
        assert_problem(await later.get("/v1/me", headers=alice.headers), 401, "unauthorized")


async def test_two_workers_erase_each_due_account_once(client, sandbox, settings):
    members = [await sign_in(client, sandbox, name) for name in ("alice", "bob", "carol")]
    for member in members:
        assert (await client.delete("/v1/me", headers=member.headers)).status_code == 202
    pool = await create_pool(settings)
    try:
        await pool.execute("UPDATE account_deletions SET due_at = now()")
        assert sum(await asyncio.gather(erase_due(pool), erase_due(pool))) == 3
        assert await erase_due(pool) == 0
        assert await pool.fetchval("SELECT count(*) FROM users WHERE erased_at IS NOT NULL") == 3
    finally:
        await pool.close()


# A column that names a member: a reference to users, or a name that says so (also without a foreign key).
PERSON_COLUMN = re.compile(
    r"^(member|(\w+_)?(user|author|owner|reporter|actor|payer|payee|proposer|referrer|referred|initiator|blocker"
    r"|blocked|subject)(_user)?_id|\w*openid)$"
)

USER_TABLES = """
SELECT c.relname AS table_name, a.attname AS column_name,
       EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'f'
               AND k.confrelid = 'users'::regclass AND a.attnum = ANY(k.conkey)) AS references_users
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0
  AND NOT a.attisdropped
"""


async def test_every_table_that_names_a_member_is_erased_or_kept_by_a_domain(database_url):
    """A new table with a user column must be erased by its domain's privacy hook, or declared kept (money,
    audit, counts): otherwise this fails, naming the table."""
    install(DOMAINS)
    erased, kept = declared_tables()
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(USER_TABLES)
    finally:
        await conn.close()
    tables = {row["table_name"] for row in rows}
    holding = {row["table_name"] for row in rows if row["references_users"] or PERSON_COLUMN.match(row["column_name"])}
    assert {"posts", "orders", "inbox_items", "robot_cooldowns", "wechat_messages"} <= holding
    assert sorted(holding - erased - kept) == [], "tables naming a member that no domain erases or keeps"
    assert sorted((erased | kept) - tables) == [], "declared tables that do not exist"
    assert erased & kept == set()
