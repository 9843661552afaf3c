"""Communities: create, read, edit, validation, discovery and "my communities", over HTTP."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from service.communities.logic import render_welcome
from service.core.idempotency import purge_expired
from tests.factories import create_community, create_users, join, upload_photo
from tests.world import assert_problem, sign_in


@pytest.fixture
async def people(database_url, settings):
    alice, bob, carol = await create_users(database_url, settings, "Alice", "Bob", "Carol")
    return alice, bob, carol


async def test_create_and_read_a_community(client, people, settings):
    alice, bob, _ = people
    cover = await upload_photo(client, alice, "cover")
    created = await create_community(
        client,
        alice,
        name="  城市跑团  ",
        description="每周六早上一起跑",
        tags=["跑步", "Running", "running"],
        coverMediaId=cover,
    )
    assert created["coverUrl"] == f"{settings.public_base_url}/v1/media/public/{cover}"
    assert created["name"] == "城市跑团"
    assert created["tags"] == ["跑步", "running"]
    assert created["ownerId"] == str(alice.id)
    assert created["memberCount"] == 1 and created["memberCap"] == 100
    assert created["entryMode"] == "free" and created["priceFen"] is None
    assert created["visibility"] == "listed"
    assert "{nickname}" in created["welcomeTemplate"]
    assert created["membership"]["role"] == "owner"
    assert isinstance(created["id"], str)

    seen_by_bob = (await client.get(f"/v1/communities/{created['id']}", headers=bob.headers)).json()
    assert seen_by_bob["membership"] is None and seen_by_bob["joinRequest"] is None
    assert seen_by_bob["name"] == "城市跑团" and seen_by_bob["coverUrl"] == created["coverUrl"]

    # The cover is changed from another upload, and removed with null; other fields stay as they are.
    path = f"/v1/communities/{created['id']}"
    other = await upload_photo(client, alice, "cover", color=(20, 200, 20))
    changed = (await client.put(path, json={"coverMediaId": other}, headers=alice.headers)).json()
    assert changed["coverUrl"].endswith(f"/v1/media/public/{other}") and changed["name"] == "城市跑团"
    kept = (await client.put(path, json={"description": "周六跑"}, headers=alice.headers)).json()
    assert kept["coverUrl"] == changed["coverUrl"]
    removed = (await client.put(path, json={"coverMediaId": None}, headers=alice.headers)).json()
    assert removed["coverUrl"] == "" and removed["description"] == "周六跑"
    # A cover URL is no longer taken, on create or edit, from any host: the field is refused by name.
    for method, url in (("POST", "/v1/communities"), ("PUT", path)):
        body = {"name": "ok", "coverUrl": "https://cdn.example.com/c.jpg"}
        refused = await client.request(method, url, json=body, headers=alice.headers)
        [error] = assert_problem(refused, 400, "validation_failed")["errors"]
        assert error["field"] == "coverUrl" and error["reason"] == "unknown_field"
        assert "purpose `cover`" in error["message"] and "`coverMediaId`" in error["message"]


async def test_creating_is_idempotent_with_a_key(client, people, database_url):
    alice, *_ = people
    headers = {**alice.headers, "Idempotency-Key": "create-1"}
    first = await client.post("/v1/communities", json={"name": "Once"}, headers=headers)
    again = await client.post("/v1/communities", json={"name": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/v1/communities", json={"name": "Twice"}, headers=headers)
    assert_problem(other, 422, "idempotency_key_reused")
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM communities") == 1
    finally:
        await conn.close()


async def test_a_retried_create_answers_the_first_even_with_wechat_down(client, people, sandbox):
    """The first request passed WeChat's check and created the community: its retry (the answer was lost) gets
    that answer, not a second check, which could fail (WeChat down: 503) while the community exists."""
    alice, *_ = people
    headers = {**alice.headers, "Idempotency-Key": "create-wechat-down"}
    first = await client.post("/v1/communities", json={"name": "跑团"}, headers=headers)
    assert first.status_code == 201, first.text
    checks = (await sandbox.stats())["msg_sec_check"]
    await sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
    try:
        again = await client.post("/v1/communities", json={"name": "跑团"}, headers=headers)
    finally:
        await sandbox.control("DELETE", "/sandbox/faults")
    assert again.status_code == 201, again.text
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert (await sandbox.stats())["msg_sec_check"] == checks


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x" * 41}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "ok", "entryMode": "paid", "priceFen": -1}, "priceFen"),
        ({"name": "ok", "entryMode": "paid", "priceFen": 0}, "priceFen"),
        ({"name": "ok", "entryMode": "paid"}, "priceFen"),
        ({"name": "ok", "entryMode": "free", "priceFen": 100}, "priceFen"),
        ({"name": "ok", "memberCap": 501}, "memberCap"),
        ({"name": "ok", "memberCap": 0}, "memberCap"),
        ({"name": "ok", "entryMode": "lottery"}, "entryMode"),
        ({"name": "ok", "visibility": "secret"}, "visibility"),
        ({"name": "ok", "tags": ["a"] * 6}, "tags"),
        ({"name": "ok", "coverUrl": "javascript:alert(1)"}, "coverUrl"),
        ({"name": "ok", "coverMediaId": "javascript:alert(1)"}, "coverMediaId"),
        ({"name": "ok", "welcomeTemplate": "Hi {nickname}, {0.__class__}"}, "welcomeTemplate"),
        ({"name": "ok", "description": "d" * 1001}, "description"),
    ],
)
async def test_bad_community_settings_are_listed_by_field(client, people, body, field):
    alice, *_ = people
    response = await client.post("/v1/communities", json=body, headers=alice.headers)
    problem = assert_problem(response, 400, "validation_failed")
    assert field in {error["field"] for error in problem["errors"]}, problem


async def test_requests_without_a_token_are_refused(client):
    assert_problem(await client.get("/v1/communities"), 401, "unauthorized")
    assert_problem(await client.post("/v1/communities", json={"name": "x"}), 401, "unauthorized")
    assert_problem(await client.get("/v1/me/communities"), 401, "unauthorized")


async def test_unknown_community_is_404(client, people):
    alice, *_ = people
    assert_problem(await client.get("/v1/communities/999999", headers=alice.headers), 404, "not_found")
    assert_problem(await client.post("/v1/communities/999999/join", headers=alice.headers), 404, "not_found")


async def test_owner_and_admins_edit_within_their_rights(client, people):
    alice, bob, carol = people
    community = await create_community(client, alice, name="Readers")
    cid = community["id"]
    await join(client, bob, cid)
    await join(client, carol, cid)
    await client.put(f"/v1/communities/{cid}/members/{bob.id}", json={"role": "admin"}, headers=alice.headers)

    edited = await client.put(f"/v1/communities/{cid}", json={"description": "books"}, headers=bob.headers)
    assert edited.status_code == 200 and edited.json()["description"] == "books"
    refused = await client.put(f"/v1/communities/{cid}", json={"memberCap": 200}, headers=bob.headers)
    assert "memberCap" in assert_problem(refused, 403, "forbidden")["detail"]
    assert_problem(
        await client.put(f"/v1/communities/{cid}", json={"description": "x"}, headers=carol.headers),
        403,
        "forbidden",
    )

    raised = await client.put(f"/v1/communities/{cid}", json={"memberCap": 500}, headers=alice.headers)
    assert raised.json()["memberCap"] == 500
    too_high = await client.put(f"/v1/communities/{cid}", json={"memberCap": 501}, headers=alice.headers)
    assert_problem(too_high, 400, "validation_failed")
    too_low = await client.put(f"/v1/communities/{cid}", json={"memberCap": 2}, headers=alice.headers)
    assert_problem(too_low, 409, "cap_below_member_count")

    no_price = await client.put(f"/v1/communities/{cid}", json={"entryMode": "paid"}, headers=alice.headers)
    assert "priceFen" in {e["field"] for e in assert_problem(no_price, 400, "validation_failed")["errors"]}
    paid = await client.put(
        f"/v1/communities/{cid}", json={"entryMode": "paid", "priceFen": 990}, headers=alice.headers
    )
    assert paid.json()["priceFen"] == 990
    free_again = await client.put(f"/v1/communities/{cid}", json={"entryMode": "free"}, headers=alice.headers)
    assert free_again.json()["priceFen"] is None and free_again.json()["entryMode"] == "free"
    unknown_field = await client.put(f"/v1/communities/{cid}", json={"ownerId": "1"}, headers=alice.headers)
    assert_problem(unknown_field, 400, "validation_failed")

    log = (await client.get(f"/v1/communities/{cid}/audit-log", headers=alice.headers)).json()["items"]
    updates = [entry for entry in log if entry["action"] == "community.updated"]
    assert {"memberCap"} <= {field for entry in updates for field in entry["details"]["fields"]}
    assert any(entry["actorId"] == str(bob.id) for entry in updates)


async def test_community_texts_pass_wechats_content_check(client, sandbox, database_url):
    """Name, description, tags, greeting and introduction prompt show to every signed-in user (discover) or
    every newcomer: WeChat must pass them before anything is stored; a risky one or WeChat down stores nothing."""
    alice = await sign_in(client, sandbox, "alice")
    conn = await asyncpg.connect(database_url)

    async def stored() -> list[tuple]:
        rows = await conn.fetch(
            "SELECT name, description, tags, welcome_template, introduction_prompt FROM communities ORDER BY id"
        )
        return [tuple(row) for row in rows]

    try:
        for risky in (
            {"name": "sandbox-risky 跑团"},
            {"name": "跑团", "description": "来 sandbox-risky 一起"},
            {"name": "跑团", "welcomeTemplate": "欢迎 {nickname}，sandbox-risky"},
            {"name": "跑团", "introductionPrompt": "sandbox-risky"},
            {"name": "跑团", "tags": ["sandbox-risky"]},
        ):
            refused = await client.post("/v1/communities", json=risky, headers=alice.headers)
            assert_problem(refused, 422, "content_rejected")
        await sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
        try:
            down = await client.post("/v1/communities", json={"name": "跑团"}, headers=alice.headers)
            assert_problem(down, 503, "wechat_unavailable")
        finally:
            await sandbox.control("DELETE", "/sandbox/faults")
        assert await stored() == []

        cid = (await create_community(client, alice, name="跑团", description="周六跑", tags=["跑步"]))["id"]
        before = await stored()
        path = f"/v1/communities/{cid}"
        for risky in (
            {"name": "sandbox-risky"},
            {"description": "sandbox-risky"},
            {"welcomeTemplate": "sandbox-risky {nickname}"},
            {"introductionPrompt": "sandbox-risky"},
            {"tags": ["跑步", "sandbox-risky"]},
            {"name": "新跑团", "description": "赌博", "memberCap": 200},
        ):
            assert_problem(await client.put(path, json=risky, headers=alice.headers), 422, "content_rejected")
        await sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
        try:
            down = await client.put(path, json={"name": "新跑团"}, headers=alice.headers)
            assert_problem(down, 503, "wechat_unavailable")
            # Texts sent as they are stored are not asked about again: the settings form resends them all.
            same = {"name": "跑团", "description": "周六跑", "tags": ["跑步"], "memberCap": 200}
            kept = await client.put(path, json=same, headers=alice.headers)
            assert kept.status_code == 200 and kept.json()["memberCap"] == 200, kept.text
        finally:
            await sandbox.control("DELETE", "/sandbox/faults")
        assert await stored() == before
        log = (await client.get(f"{path}/audit-log", headers=alice.headers)).json()["items"]
        assert [entry["details"]["fields"] for entry in log if entry["action"] == "community.updated"] == [
            ["memberCap"]
        ]

        checks = (await sandbox.stats()).get("msg_sec_check", 0)
        renamed = await client.put(path, json={"name": "新跑团", "description": "周日跑"}, headers=alice.headers)
        assert renamed.status_code == 200 and renamed.json()["name"] == "新跑团", renamed.text
        assert (await sandbox.stats())["msg_sec_check"] == checks + 1  # one check for both texts
    finally:
        await conn.close()


async def test_discover_lists_listed_communities_by_name_and_tag(client, people):
    alice, bob, _ = people
    await create_community(client, alice, name="Morning runners", tags=["running"])
    await create_community(client, alice, name="Evening runners", tags=["running", "night"])
    await create_community(client, alice, name="Hidden runners", visibility="unlisted")
    await create_community(client, alice, name="Chess 100%", tags=["chess"])
    await create_community(client, alice, name="Chess club", tags=["chess"])

    async def names(**params) -> list[str]:
        response = await client.get("/v1/communities", params=params, headers=bob.headers)
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert await names(q="runners") == ["Evening runners", "Morning runners"]
    assert await names(q="RUNNERS", tag="night") == ["Evening runners"]
    assert await names(tag="Chess") == ["Chess club", "Chess 100%"]
    assert await names(q="100%") == ["Chess 100%"]
    assert await names(q="%") == ["Chess 100%"]
    assert await names(q="_") == []

    seen, cursor = [], None
    for _ in range(10):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/communities", params=params, headers=bob.headers)).json()
        seen += [item["name"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 4 and "Hidden runners" not in seen

    bad = await client.get("/v1/communities", params={"cursor": "not-a-cursor"}, headers=bob.headers)
    assert_problem(bad, 400, "validation_failed")
    assert_problem(await client.get("/v1/communities?limit=101", headers=bob.headers), 400, "validation_failed")
    assert_problem(await client.get("/v1/communities?q=" + "x" * 41, headers=bob.headers), 400, "validation_failed")


async def test_my_communities_show_last_activity_and_unread_counts(client, people, database_url):
    alice, bob, carol = people
    first = await create_community(client, alice, name="First")
    second = await create_community(client, alice, name="Second")
    await join(client, bob, first["id"])
    await join(client, bob, second["id"])
    await join(client, carol, first["id"])  # the robot greets Carol in First: one unread for Bob

    conn = await asyncpg.connect(database_url)
    try:
        # A member post in Second, later than everything else, makes Second the most recently active.
        await conn.execute(
            "INSERT INTO posts (community_id, author_id, text, created_at) VALUES ($1, $2, 'hello', now() + '2s')",
            int(second["id"]),
            alice.id,
        )
        await conn.execute(
            "INSERT INTO posts (community_id, author_id, text, created_at) VALUES ($1, $2, 'mine', now() + '1s')",
            int(first["id"]),
            bob.id,
        )
    finally:
        await conn.close()

    mine = (await client.get("/v1/me/communities", headers=bob.headers)).json()["items"]
    assert [item["name"] for item in mine] == ["Second", "First"]
    by_name = {item["name"]: item for item in mine}
    assert by_name["Second"]["unreadCount"] == 1
    assert by_name["First"]["unreadCount"] == 1  # Carol's welcome; Bob's own post does not count
    assert by_name["First"]["role"] == "member" and by_name["First"]["memberCount"] == 3

    read = await client.post(f"/v1/communities/{second['id']}/read", headers=bob.headers)
    assert read.status_code == 204
    paged = (await client.get("/v1/me/communities?limit=1", headers=bob.headers)).json()
    assert len(paged["items"]) == 1 and paged["nextCursor"]
    rest = (await client.get(f"/v1/me/communities?limit=1&cursor={paged['nextCursor']}", headers=bob.headers)).json()
    assert rest["nextCursor"] is None
    both = {item["name"]: item for item in paged["items"] + rest["items"]}
    assert set(both) == {"First", "Second"}

    alice_mine = (await client.get("/v1/me/communities", headers=alice.headers)).json()["items"]
    assert {item["role"] for item in alice_mine} == {"owner"}
    assert (await client.post(f"/v1/communities/{first['id']}/read", headers=carol.headers)).status_code == 204
    assert_problem(await client.post(f"/v1/communities/{second['id']}/read", headers=carol.headers), 403, "not_member")


async def test_unread_count_is_capped(client, people, database_url):
    alice, bob, _ = people
    community = await create_community(client, alice)
    await join(client, bob, community["id"])
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO posts (community_id, author_id, text, created_at) "
            "SELECT $1, $2, 'p' || n, now() + make_interval(secs => n) FROM generate_series(1, 150) n",
            int(community["id"]),
            alice.id,
        )
    finally:
        await conn.close()
    (item,) = (await client.get("/v1/me/communities", headers=bob.headers)).json()["items"]
    assert item["unreadCount"] == 100


def test_welcome_template_rendering():
    assert render_welcome("Hi {nickname}, welcome to {community}", "Bob", "Tea") == "Hi Bob, welcome to Tea"
    assert render_welcome("欢迎 {nickname}", "", "Tea") == "欢迎 新朋友"
    # A nickname that looks like a placeholder is inserted as it is, never expanded again.
    assert render_welcome("{nickname} in {community}", "{community}", "Tea") == "{community} in Tea"


async def test_idempotency_keys_are_forgotten_after_a_day(client, people, database_url):
    alice, *_ = people
    headers = {**alice.headers, "Idempotency-Key": "old-key"}
    await client.post("/v1/communities", json={"name": "One"}, headers=headers)
    conn = await asyncpg.connect(database_url)
    try:
        await purge_expired(conn)
        assert await conn.fetchval("SELECT count(*) FROM idempotent_requests") == 1
        await conn.execute("UPDATE idempotent_requests SET created_at = now() - interval '25 hours'")
        await purge_expired(conn, timedelta(hours=24))
        assert await conn.fetchval("SELECT count(*) FROM idempotent_requests") == 0
    finally:
        await conn.close()
    again = await client.post("/v1/communities", json={"name": "One"}, headers=headers)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
