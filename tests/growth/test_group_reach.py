"""The WeChat groups a share reached, over HTTP with the sandbox's wx.getShareInfo: whoever opens a share's card in
a group chat records the group (member or not), once per share and group with its opens counted; data that does not
open with the caller's latest session_key is refused with `invalid_open_data`; the admins read the reach."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from service.settings import Settings
from service.wechat.sandbox.control import seal_open_data
from tests.growth.conftest import share
from tests.support import make_settings
from tests.test_wx_contract import node
from tests.wechat_support import Sandbox
from tests.world import assert_problem

LIMIT = 10


@pytest.fixture
def settings(database_url: str, sandbox: Sandbox) -> Settings:
    return make_settings(
        database_url, wechat_api_base=sandbox.url, newcomer_hours=0, share_group_opens_per_minute=LIMIT
    )


async def open_in_group(world, who, code: str, group: str, status: int = 200) -> dict:
    info = await world.sandbox.share_info(who.name, group)
    response = await world.client.post(f"/v1/shares/{code}/group-opens", json=info, headers=who.headers)
    assert response.status_code == status, response.text
    return response.json()


async def reach(world, who, cid: str, status: int = 200) -> dict:
    response = await world.client.get(f"/v1/communities/{cid}/share-reach", headers=who.headers)
    assert response.status_code == status, response.text
    return response.json()


async def test_each_group_counts_once_its_opens_rise_and_the_admins_read_the_reach(world, db, settings):
    alice, bob, carol, dan = [await world.member(name) for name in ("alice", "bob", "carol", "dan")]
    cid = await world.community(alice, bob)
    post = await world.post(alice, cid, "周六早上七点，公园门口集合")
    code = await share(world, bob, post["id"])
    assert await reach(world, alice, cid) == {
        "communityId": cid,
        "groupsReached": 0,
        "opens": 0,
        "sharesOpened": 0,
        "items": [],
    }

    # carol and dan are no members: they opened the card in a group chat to look, and the open counts.
    first = await open_in_group(world, carol, code, "跑友群")
    assert (first["shareCode"], first["firstOpen"], first["opens"]) == (code, True, 1)
    again = await open_in_group(world, dan, code, "跑友群")
    assert (again["firstOpen"], again["opens"], again["firstOpenedAt"]) == (False, 2, first["firstOpenedAt"])
    assert (await open_in_group(world, carol, code, "跑友群"))["opens"] == 3
    second = await open_in_group(world, carol, code, "家庭群")
    assert (second["firstOpen"], second["opens"]) == (True, 1)

    seen = await reach(world, alice, cid)
    assert (seen["groupsReached"], seen["opens"], seen["sharesOpened"]) == (2, 4, 1)
    [item] = seen["items"]
    assert (item["code"], item["postId"], item["sharerId"], item["sharerNickname"]) == (
        code,
        post["id"],
        str(bob.id),
        "bob",
    )
    assert (item["groupsReached"], item["opens"]) == (2, 4)
    assert item["firstOpenedAt"] == first["firstOpenedAt"] and item["lastOpenedAt"] >= second["firstOpenedAt"]

    # Another share opened in a group already reached: the community's distinct groups stay 2.
    other = await share(world, alice, post["id"])
    await open_in_group(world, dan, other, "家庭群")
    seen = await reach(world, alice, cid)
    assert (seen["groupsReached"], seen["opens"], seen["sharesOpened"]) == (2, 5, 2)
    assert [(i["code"], i["groupsReached"]) for i in seen["items"]] == [(code, 2), (other, 1)]

    # The group is kept as a digest of appid and openGId, never the openGId itself.
    open_gid = world.sandbox.state.open_gid_for("跑友群")
    digests = {bytes(row["group_digest"]) for row in await db.fetch("SELECT group_digest FROM share_group_opens")}
    assert hashlib.sha256(f"{world.sandbox.state.config.appid}\n{open_gid}".encode()).digest() in digests
    dump = str(await db.fetch("SELECT * FROM share_group_opens"))
    assert open_gid not in dump and open_gid.encode().hex() not in dump

    # Only the admins read it: a plain member (even the sharer) is forbidden, a stranger is not a member.
    assert_problem(await world.client.get(f"/v1/communities/{cid}/share-reach", headers=bob.headers), 403, "forbidden")
    assert_problem(
        await world.client.get(f"/v1/communities/{cid}/share-reach", headers=carol.headers), 403, "not_member"
    )


async def test_data_that_does_not_open_with_the_latest_session_key_is_refused(world, db):
    alice, carol = [await world.member(name) for name in ("alice", "carol")]
    cid = await world.community(alice)
    code = await share(world, alice, (await world.post(alice, cid, "欢迎新朋友"))["id"])
    url = f"/v1/shares/{code}/group-opens"

    # Forged: random bytes, well-formed base64.
    forged = {
        "encryptedData": base64.b64encode(os.urandom(64)).decode(),
        "iv": base64.b64encode(os.urandom(16)).decode(),
    }
    body = assert_problem(await world.client.post(url, json=forged, headers=carol.headers), 400, "invalid_open_data")
    assert body["action"] == "login" and body["userMessage"] == "登录信息已更新，请重新登录后再试。"

    # Encrypted under the session key of carol's earlier login: after she logged in again, it no longer opens.
    older = await world.sandbox.share_info("carol", "跑友群")
    carol = await world.member("carol")
    assert_problem(await world.client.post(url, json=older, headers=carol.headers), 400, "invalid_open_data")

    # Another mini program's data (its appid in the watermark), even under carol's current key.
    user = world.sandbox.state.user("carol")
    open_gid = world.sandbox.state.open_gid_for("跑友群")
    foreign = seal_open_data(world.sandbox.state, user, {"openGId": open_gid}, appid="wx0000000000000000")
    foreign_body = {"encryptedData": foreign.encrypted_data, "iv": foreign.iv}
    assert_problem(await world.client.post(url, json=foreign_body, headers=carol.headers), 400, "invalid_open_data")

    # Open data of carol's that is not a group's share info.
    profile = await world.sandbox.control("POST", "/sandbox/open-data", json={"user": "carol", "data": {"a": 1}})
    profile_body = {"encryptedData": profile["encryptedData"], "iv": profile["iv"]}
    assert_problem(await world.client.post(url, json=profile_body, headers=carol.headers), 400, "not_group_share_info")
    assert await db.fetchval("SELECT count(*) FROM share_group_opens") == 0

    # What getShareInfo gives her now opens.
    assert (await open_in_group(world, carol, code, "跑友群"))["opens"] == 1


async def test_unknown_hidden_and_malformed_shares_and_the_rate_limit(world, db):
    alice, carol = [await world.member(name) for name in ("alice", "carol")]
    cid = await world.community(alice)
    post = await world.post(alice, cid, "欢迎新朋友")
    code = await share(world, alice, post["id"])
    info = await world.sandbox.share_info("carol", "跑友群")

    def opened(share_code: str, body: dict | None = None, headers: dict | None = None):
        url = f"/v1/shares/{share_code}/group-opens"
        return world.client.post(
            url, json=info if body is None else body, headers=carol.headers if headers is None else headers
        )

    assert_problem(await opened("nosuchcode123"), 404, "not_found")
    assert_problem(await opened(code, headers={}), 401, "unauthorized")
    for malformed in (
        {"encryptedData": info["encryptedData"]},
        {**info, "iv": "short"},
        {**info, "encryptedData": "not base64!"},
        {**info, "encryptedData": info["encryptedData"][:-1]},  # not a whole number of base64 quads
        {**info, "extra": 1},
    ):
        assert_problem(await opened(code, malformed), 400, "validation_failed")
    assert_problem(await opened("bad!code"), 400, "validation_failed")

    hidden = await share(world, alice, (await world.post(alice, cid, "再分享一条"))["id"])
    await db.execute(
        "UPDATE posts SET status = 'pending' WHERE community_id = $1 AND id <> $2", int(cid), int(post["id"])
    )
    assert_problem(await opened(hidden), 404, "not_found")  # hidden by reports: as if it never existed
    removed = await world.client.delete(f"/v1/posts/{post['id']}", headers=alice.headers)
    assert removed.status_code == 204, removed.text
    assert_problem(await opened(code), 404, "not_found")
    assert await db.fetchval("SELECT count(*) FROM share_group_opens") == 0

    # Every attempt of the minute counted (the ones above too, forged or not): past the limit, 429.
    attempts = await db.fetchval("SELECT hits FROM rate_limits WHERE bucket = $1", f"share-group-open:{carol.id}")
    for _ in range(LIMIT - attempts):
        assert_problem(await opened("nosuchcode123"), 404, "not_found")
    assert_problem(await opened("nosuchcode123"), 429, "rate_limited")
    assert int((await opened("nosuchcode123")).headers["retry-after"]) >= 1


async def test_a_group_open_through_the_strict_wx(world, settings):
    """wx.getLaunchOptionsSync and wx.getShareInfo of tests/client/wx.cjs, over real HTTP: a wx.login since the last
    login makes the data unreadable (`invalid_open_data`, action `login`); logged in again, the open is recorded."""
    alice = await world.member("alice")
    cid = await world.community(alice)
    code = await share(world, alice, (await world.post(alice, cid, "欢迎新朋友"))["id"])
    ticket = (await world.sandbox.control("POST", "/sandbox/share-ticket", json={"group": "跑友群"}))["shareTicket"]
    seen = await node("share_open.cjs", str(world.client.base_url).rstrip("/"), world.sandbox.url, code, ticket)
    assert seen["launch"] == {"scene": 1044, "code": code}
    assert (seen["first"]["info"], seen["first"]["status"], seen["first"]["body"]["firstOpen"]) == (
        "getShareInfo:ok",
        200,
        True,
    )
    assert (seen["stale"]["status"], seen["stale"]["body"]["code"], seen["stale"]["body"]["action"]) == (
        400,
        "invalid_open_data",
        "login",
    )
    assert (seen["again"]["status"], seen["again"]["body"]["opens"]) == (200, 2)
    assert seen["unknown"] == "getShareInfo:fail invalid shareTicket"
    assert seen["missing"] == "getShareInfo:fail parameter error: shareTicket"
    assert seen["apis"].count("getShareInfo") == 4  # the one without a ticket never left the client
    assert (await reach(world, alice, cid))["groupsReached"] == 1
