"""Invite posters over HTTP: the mini-program code comes from WeChat's wxacode.getUnlimited (the sandbox draws a
PNG over real HTTP), is drawn once per invite and kept, and only the link's creator or an admin gets it."""

from __future__ import annotations

import io

from PIL import Image

from service.wechat.sandbox.miniprogram import _code_png
from tests.world import assert_problem


async def draws(world) -> int:
    return (await world.sandbox.control("GET", "/sandbox/stats")).get("getwxacodeunlimit", 0)


async def test_an_invite_poster_is_a_png_from_wechat_drawn_once(world, settings):
    alice, bob, carol = [await world.member(name) for name in ("alice", "bob", "carol")]
    cid = await world.community(alice, bob, carol)
    made = await world.client.post(f"/v1/communities/{cid}/invites", json={}, headers=bob.headers)
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    path = f"/v1/communities/{cid}/invites/{code}/poster"

    before = await draws(world)
    first = await world.client.get(path, headers=bob.headers)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/png" and first.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(first.content)).size == (430, 430)
    # The code opens the join page with the community and the invite: what the sandbox drew for that scene.
    assert first.content == _code_png(f"{cid}.{code}", settings.invite_page, 430)
    again = await world.client.get(path, headers=alice.headers)  # an admin, any link of the community
    assert again.status_code == 200 and again.content == first.content
    assert await draws(world) == before + 1  # kept: WeChat drew it once

    assert_problem(await world.client.get(path, headers=carol.headers), 404, "invite_not_found")  # not hers
    stranger = await world.member("dan")
    assert_problem(await world.client.get(path, headers=stranger.headers), 403, "not_member")
    unknown = f"/v1/communities/{cid}/invites/nosuchcode1/poster"
    assert_problem(await world.client.get(unknown, headers=alice.headers), 404, "invite_not_found")
    revoked = await world.client.delete(f"/v1/communities/{cid}/invites/{code}", headers=bob.headers)
    assert revoked.status_code == 204, revoked.text
    assert_problem(await world.client.get(path, headers=bob.headers), 410, "invite_expired")


async def test_wechat_unreachable_keeps_nothing_and_the_next_ask_draws_it(world, db, sandbox):
    alice = await world.member("alice")
    cid = await world.community(alice)
    code = (await world.client.post(f"/v1/communities/{cid}/invites", json={}, headers=alice.headers)).json()["code"]
    path = f"/v1/communities/{cid}/invites/{code}/poster"
    await sandbox.fault("http500", path_prefix="/wxa/getwxacodeunlimit")
    try:
        assert_problem(await world.client.get(path, headers=alice.headers), 503, "wechat_unavailable")
    finally:
        await sandbox.control("DELETE", "/sandbox/faults")
    assert await db.fetchval("SELECT count(*) FROM invite_posters WHERE community_id = $1", int(cid)) == 0
    drawn = await world.client.get(path, headers=alice.headers)
    assert drawn.status_code == 200 and drawn.content.startswith(b"\x89PNG")
    assert await db.fetchval("SELECT count(*) FROM invite_posters WHERE community_id = $1", int(cid)) == 1
