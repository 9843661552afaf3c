"""Belonging to a community over HTTP: joining, approval, invites, roles, mute, leave, removal, the welcome
ceremony, introductions, the audit log, and attempts to act in a community one has no standing in."""

from __future__ import annotations

import asyncpg
import pytest

from service.core.access import check_can_post
from service.errors import Problem
from tests.factories import create_community, create_users, join, upload_photo
from tests.support import api_client, make_settings
from tests.world import assert_problem, notices


@pytest.fixture
async def people(database_url, settings):
    return await create_users(database_url, settings, "Alice", "Bob", "Carol", "Dave")


@pytest.fixture
async def db(database_url):
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


def members_url(cid: str, who: object = "") -> str:
    return f"/v1/communities/{cid}/members" + (f"/{who}" if who != "" else "")


async def audit_actions(client, admin, cid: str) -> list[str]:
    response = await client.get(f"/v1/communities/{cid}/audit-log", headers=admin.headers)
    assert response.status_code == 200, response.text
    return [entry["action"] for entry in response.json()["items"]]


async def test_free_join_welcomes_the_newcomer(client, people, db):
    alice, bob, *_ = people
    community = await create_community(
        client,
        alice,
        name="Tea lovers",
        welcomeTemplate="Welcome {nickname} to {community}! {nickname}, say hello.",
        introductionRequired=True,
        introductionPrompt="Tell us your favourite tea",
    )
    cid = community["id"]
    response = await client.post(f"/v1/communities/{cid}/join", headers=bob.headers)
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["outcome"] == "joined"
    assert result["membership"]["role"] == "member" and result["membership"]["introduced"] is False
    welcome = result["welcome"]
    assert welcome["text"] == "Welcome Bob to Tea lovers! Bob, say hello."
    assert welcome["introductionRequired"] is True
    assert welcome["introductionPrompt"] == "Tell us your favourite tea"
    post = await db.fetchrow("SELECT * FROM posts WHERE id = $1", int(welcome["postId"]))
    assert post["kind"] == "welcome" and post["robot"] == "welcome" and post["author_id"] is None
    assert post["text"] == welcome["text"] and post["community_id"] == int(cid)

    again = await client.post(f"/v1/communities/{cid}/join", headers=bob.headers)
    assert again.status_code == 200 and again.json()["outcome"] == "already_member"
    assert (await client.get(f"/v1/communities/{cid}", headers=bob.headers)).json()["memberCount"] == 2
    assert await db.fetchval("SELECT count(*) FROM posts WHERE kind = 'welcome'") == 1
    log = (await client.get(f"/v1/communities/{cid}/audit-log", headers=alice.headers)).json()["items"]
    joined = next(entry for entry in log if entry["action"] == "member.joined")
    assert joined["subjectId"] == str(bob.id) and joined["subjectNickname"] == "Bob"
    assert joined["details"]["via"] == "free"


async def test_join_with_an_idempotency_key_answers_the_first_result(client, people):
    alice, bob, *_ = people
    first_community = await create_community(client, alice)
    second_community = await create_community(client, alice)
    headers = {**bob.headers, "Idempotency-Key": "join-abc"}
    first = await client.post(f"/v1/communities/{first_community['id']}/join", headers=headers)
    retry = await client.post(f"/v1/communities/{first_community['id']}/join", headers=headers)
    assert first.status_code == retry.status_code == 201
    assert first.content == retry.content and retry.headers["idempotent-replayed"] == "true"
    elsewhere = await client.post(f"/v1/communities/{second_community['id']}/join", headers=headers)
    assert_problem(elsewhere, 422, "idempotency_key_reused")
    bad_key = await client.post(
        f"/v1/communities/{second_community['id']}/join", headers={**bob.headers, "Idempotency-Key": "x" * 101}
    )
    assert_problem(bad_key, 400, "validation_failed")


async def test_the_owner_joining_a_paid_community_is_already_a_member(client, people):
    # Paying to join is tested with the Pay sandbox in tests/checkout/test_paid_entry.py.
    alice, *_ = people
    community = await create_community(client, alice, entryMode="paid", priceFen=990)
    owner = await client.post(f"/v1/communities/{community['id']}/join", headers=alice.headers)
    assert owner.status_code == 200 and owner.json()["outcome"] == "already_member"


async def test_approval_flow(client, people, db):
    alice, bob, carol, dave = people
    community = await create_community(client, alice, entryMode="approval")
    cid = community["id"]

    pending = await client.post(f"/v1/communities/{cid}/join", json={"message": "hi"}, headers=bob.headers)
    assert pending.status_code == 202
    request = pending.json()["request"]
    assert request["status"] == "pending" and request["message"] == "hi" and request["nickname"] == "Bob"
    asked_again = await client.post(f"/v1/communities/{cid}/join", json={"message": "again"}, headers=bob.headers)
    assert asked_again.status_code == 202 and asked_again.json()["request"]["id"] == request["id"]
    await client.post(f"/v1/communities/{cid}/join", headers=carol.headers)

    assert_problem(await client.get(f"/v1/communities/{cid}/join-requests", headers=bob.headers), 403, "not_member")
    queue = (await client.get(f"/v1/communities/{cid}/join-requests", headers=alice.headers)).json()["items"]
    assert [item["nickname"] for item in queue] == ["Bob", "Carol"]

    approved = await client.post(f"/v1/communities/{cid}/join-requests/{request['id']}/approve", headers=alice.headers)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["decidedBy"] == str(alice.id)
    twice = await client.post(f"/v1/communities/{cid}/join-requests/{request['id']}/approve", headers=alice.headers)
    assert twice.status_code == 200 and twice.json()["status"] == "approved"
    assert await db.fetchval("SELECT count(*) FROM posts WHERE kind = 'welcome' AND community_id = $1", int(cid)) == 1
    bob_view = (await client.get(f"/v1/communities/{cid}", headers=bob.headers)).json()
    assert bob_view["membership"]["status"] == "active" and bob_view["memberCount"] == 2

    # Bob, a plain member, may not decide; Carol's request is rejected with a reason she can read.
    carol_request = queue[1]["id"]
    not_admin = await client.post(f"/v1/communities/{cid}/join-requests/{carol_request}/approve", headers=bob.headers)
    assert_problem(not_admin, 403, "forbidden")
    rejected = await client.post(
        f"/v1/communities/{cid}/join-requests/{carol_request}/reject",
        json={"reason": "please tell us why"},
        headers=alice.headers,
    )
    assert rejected.json()["status"] == "rejected"
    carol_view = (await client.get(f"/v1/communities/{cid}", headers=carol.headers)).json()
    assert carol_view["membership"] is None
    assert carol_view["joinRequest"]["status"] == "rejected"
    assert carol_view["joinRequest"]["reason"] == "please tell us why"
    late = await client.post(f"/v1/communities/{cid}/join-requests/{carol_request}/approve", headers=alice.headers)
    assert_problem(late, 409, "request_not_pending")
    assert_problem(
        await client.post(f"/v1/communities/{cid}/join-requests/{request['id']}/reject", headers=alice.headers),
        409,
        "request_not_pending",
    )
    assert_problem(
        await client.post(f"/v1/communities/{cid}/join-requests/999999/approve", headers=alice.headers),
        404,
        "not_found",
    )
    rejected_list = await client.get(f"/v1/communities/{cid}/join-requests?status=rejected", headers=alice.headers)
    assert [item["id"] for item in rejected_list.json()["items"]] == [carol_request]

    # Carol may ask again after a rejection; a full community refuses new requests.
    await client.put(f"/v1/communities/{cid}", json={"memberCap": 2}, headers=alice.headers)
    assert_problem(await client.post(f"/v1/communities/{cid}/join", headers=dave.headers), 409, "community_full")
    actions = await audit_actions(client, alice, cid)
    assert "join_request.rejected" in actions and "member.joined" in actions


async def test_approval_of_a_full_community_fails_and_the_request_stays_pending(client, people):
    alice, bob, carol, _ = people
    community = await create_community(client, alice, entryMode="approval", memberCap=2)
    cid = community["id"]
    bob_request = (await join(client, bob, cid))["request"]["id"]
    carol_request = (await join(client, carol, cid))["request"]["id"]
    await client.post(f"/v1/communities/{cid}/join-requests/{bob_request}/approve", headers=alice.headers)
    full = await client.post(f"/v1/communities/{cid}/join-requests/{carol_request}/approve", headers=alice.headers)
    assert_problem(full, 409, "community_full")
    queue = (await client.get(f"/v1/communities/{cid}/join-requests", headers=alice.headers)).json()["items"]
    assert [item["id"] for item in queue] == [carol_request]


async def test_a_pending_request_beside_an_active_membership_is_settled_not_rejected(client, people, db):
    """A race fixed since could leave a member with a pending request to the same community (migration 0062 cancels
    those it finds). The admins' pending list leaves it out, and rejecting it cancels it: a member gets no rejection
    notice and the audit log no rejection. A request of someone who is not a member is rejected as before."""
    alice, bob, carol, _ = people
    cid = (await create_community(client, alice, entryMode="approval"))["id"]
    code = (await client.post(f"/v1/communities/{cid}/invites", json={}, headers=alice.headers)).json()["code"]
    assert (await join(client, bob, cid, inviteCode=code))["outcome"] == "joined"
    insert = "INSERT INTO join_requests (community_id, user_id, message) VALUES ($1, $2, 'hi') RETURNING id::text"
    bob_request = await db.fetchval(insert, int(cid), bob.id)
    carol_request = (await join(client, carol, cid))["request"]["id"]

    base = f"/v1/communities/{cid}/join-requests"
    queue = (await client.get(base, headers=alice.headers)).json()["items"]
    assert [item["id"] for item in queue] == [carol_request]
    settled = await client.post(f"{base}/{bob_request}/reject", json={"reason": "no"}, headers=alice.headers)
    assert (settled.status_code, settled.json()["status"], settled.json()["reason"]) == (200, "cancelled", "")
    assert await notices(client, bob.headers, "join_rejected") == []
    assert "join_request.rejected" not in await audit_actions(client, alice, cid)
    bob_view = (await client.get(f"/v1/communities/{cid}", headers=bob.headers)).json()
    assert bob_view["membership"]["status"] == "active" and bob_view["joinRequest"]["status"] == "cancelled"
    assert_problem(await client.post(f"{base}/{bob_request}/reject", headers=alice.headers), 409, "request_not_pending")
    cancelled = (await client.get(f"{base}?status=cancelled", headers=alice.headers)).json()["items"]
    assert [item["id"] for item in cancelled] == [bob_request]

    rejected = await client.post(f"{base}/{carol_request}/reject", json={"reason": "满了"}, headers=alice.headers)
    assert (rejected.status_code, rejected.json()["status"]) == (200, "rejected")
    assert [n["data"]["reason"] for n in await notices(client, carol.headers, "join_rejected")] == ["满了"]
    assert (await client.get(base, headers=alice.headers)).json()["items"] == []


async def test_invite_links_admit_and_record_the_referrer(client, people, db, database_url, settings):
    alice, bob, carol, dave = people
    community = await create_community(client, alice)
    cid = community["id"]
    await join(client, bob, cid)
    invite = await client.post(f"/v1/communities/{cid}/invites", json={"maxUses": 2}, headers=bob.headers)
    assert invite.status_code == 201
    code = invite.json()["code"]
    assert invite.json()["createdBy"] == str(bob.id) and invite.json()["uses"] == 0

    joined = await join(client, carol, cid, inviteCode=code)
    assert joined["outcome"] == "joined" and joined["membership"]["role"] == "member"
    referral = await db.fetchrow("SELECT * FROM referrals WHERE community_id = $1", int(cid))
    assert (referral["referrer_id"], referral["referred_id"]) == (bob.id, carol.id)
    # A member using a link again takes no use from it.
    assert (await join(client, carol, cid, inviteCode=code))["outcome"] == "already_member"
    assert await db.fetchval("SELECT uses FROM invites WHERE code = $1", code) == 1

    await join(client, dave, cid, inviteCode=code)
    eve, frank = await create_users(database_url, settings, "Eve", "Frank")
    used_up = await client.post(f"/v1/communities/{cid}/join", json={"inviteCode": code}, headers=eve.headers)
    assert_problem(used_up, 410, "invite_used_up")
    wrong = await client.post(f"/v1/communities/{cid}/join", json={"inviteCode": "nope-nope"}, headers=eve.headers)
    assert_problem(wrong, 404, "invite_not_found")
    other = await create_community(client, alice)
    elsewhere = await client.post(f"/v1/communities/{other['id']}/join", json={"inviteCode": code}, headers=eve.headers)
    assert_problem(elsewhere, 404, "invite_not_found")
    malformed = await client.post(f"/v1/communities/{cid}/join", json={"inviteCode": "a b"}, headers=eve.headers)
    assert_problem(malformed, 400, "validation_failed")

    # Expiry and revocation.
    fresh = (await client.post(f"/v1/communities/{cid}/invites", json={}, headers=alice.headers)).json()["code"]
    await db.execute("UPDATE invites SET expires_at = now() - interval '1 second' WHERE code = $1", fresh)
    expired = await client.post(f"/v1/communities/{cid}/join", json={"inviteCode": fresh}, headers=eve.headers)
    assert_problem(expired, 410, "invite_expired")
    revocable = (await client.post(f"/v1/communities/{cid}/invites", json={}, headers=alice.headers)).json()["code"]
    assert_problem(
        await client.delete(f"/v1/communities/{cid}/invites/{revocable}", headers=bob.headers), 404, "invite_not_found"
    )
    assert (await client.delete(f"/v1/communities/{cid}/invites/{revocable}", headers=alice.headers)).status_code == 204
    revoked = await client.post(f"/v1/communities/{cid}/join", json={"inviteCode": revocable}, headers=frank.headers)
    assert_problem(revoked, 410, "invite_expired")

    mine = (await client.get(f"/v1/communities/{cid}/invites", headers=bob.headers)).json()["items"]
    assert [item["code"] for item in mine] == [code]
    everyone = (await client.get(f"/v1/communities/{cid}/invites", headers=alice.headers)).json()["items"]
    assert len(everyone) == 3

    # A member who leaves takes their links with them.
    assert (await client.delete(members_url(cid, "me"), headers=bob.headers)).status_code == 204
    assert await db.fetchval("SELECT revoked_at IS NOT NULL FROM invites WHERE code = $1", code)


async def test_invite_bounds_and_who_may_invite(client, people):
    alice, bob, carol, _ = people
    community = await create_community(client, alice, entryMode="approval")
    cid = community["id"]
    code = (await client.post(f"/v1/communities/{cid}/invites", json={}, headers=alice.headers)).json()["code"]
    # An admin's link admits without review.
    joined = await join(client, bob, cid, inviteCode=code)
    assert joined["outcome"] == "joined"
    # In an approval community, a plain member's link would skip the review: refused.
    assert_problem(await client.post(f"/v1/communities/{cid}/invites", json={}, headers=bob.headers), 403, "forbidden")
    for body in ({"maxUses": 0}, {"maxUses": 501}, {"expiresInHours": 0}, {"expiresInHours": 721}):
        response = await client.post(f"/v1/communities/{cid}/invites", json=body, headers=alice.headers)
        assert_problem(response, 400, "validation_failed")
    assert_problem(
        await client.post(f"/v1/communities/{cid}/invites", json={}, headers=carol.headers), 403, "not_member"
    )


async def test_an_admins_link_in_an_approval_community_dies_with_their_admin_role(client, people):
    alice, bob, carol, dave = people
    cid = (await create_community(client, alice, entryMode="approval"))["id"]
    alices = (await client.post(f"/v1/communities/{cid}/invites", json={}, headers=alice.headers)).json()["code"]
    await join(client, bob, cid, inviteCode=alices)
    await client.put(members_url(cid, bob.id), json={"role": "admin"}, headers=alice.headers)
    code = (await client.post(f"/v1/communities/{cid}/invites", json={}, headers=bob.headers)).json()["code"]
    demoted = await client.put(members_url(cid, bob.id), json={"role": "member"}, headers=alice.headers)
    assert demoted.status_code == 200, demoted.text
    # A plain member may not make a link here (it would skip the review), so the one made as an admin is dead.
    refused = await client.post(f"/v1/communities/{cid}/join", json={"inviteCode": code}, headers=carol.headers)
    assert_problem(refused, 410, "invite_expired")
    assert (await join(client, carol, cid))["outcome"] == "pending"  # asking still works
    # Where a member may invite, their link works again.
    opened = await client.put(f"/v1/communities/{cid}", json={"entryMode": "free"}, headers=alice.headers)
    assert opened.status_code == 200, opened.text
    assert (await join(client, dave, cid, inviteCode=code))["outcome"] == "joined"


async def test_leave_and_rejoin(client, people):
    alice, bob, *_ = people
    community = await create_community(client, alice)
    cid = community["id"]
    await join(client, bob, cid)
    assert (await client.get(members_url(cid), headers=bob.headers)).status_code == 200

    assert (await client.delete(members_url(cid, "me"), headers=bob.headers)).status_code == 204
    assert_problem(await client.get(members_url(cid), headers=bob.headers), 403, "not_member")
    assert (await client.delete(members_url(cid, "me"), headers=bob.headers)).status_code == 204  # idempotent
    view = (await client.get(f"/v1/communities/{cid}", headers=bob.headers)).json()
    assert view["memberCount"] == 1 and view["membership"]["status"] == "left"
    assert (await client.get("/v1/me/communities", headers=bob.headers)).json()["items"] == []

    rejoined = await join(client, bob, cid)
    assert rejoined["outcome"] == "joined" and rejoined["membership"]["status"] == "active"
    assert (await client.get(f"/v1/communities/{cid}", headers=bob.headers)).json()["memberCount"] == 2
    assert_problem(await client.delete(members_url(cid, "me"), headers=alice.headers), 409, "owner_must_transfer")
    actions = await audit_actions(client, alice, cid)
    assert actions.count("member.joined") == 2 and "member.left" in actions


async def test_removal_takes_effect_at_once_and_is_sticky(client, people, db):
    alice, bob, carol, _ = people
    community = await create_community(client, alice)
    cid = community["id"]
    await join(client, bob, cid)
    await join(client, carol, cid)
    bob_code = (await client.post(f"/v1/communities/{cid}/invites", json={}, headers=bob.headers)).json()["code"]

    removed = await client.delete(members_url(cid, bob.id), params={"reason": "spam"}, headers=alice.headers)
    assert removed.status_code == 204
    # The very next request of Bob's is refused: roles are checked against the database every time.
    assert_problem(await client.get(members_url(cid), headers=bob.headers), 403, "not_member")
    assert_problem(
        await client.post(f"/v1/communities/{cid}/introduction", json={"text": "hello"}, headers=bob.headers),
        403,
        "not_member",
    )
    assert_problem(await client.post(f"/v1/communities/{cid}/invites", json={}, headers=bob.headers), 403, "not_member")
    assert await db.fetchval("SELECT revoked_at IS NOT NULL FROM invites WHERE code = $1", bob_code)
    assert (await client.get(f"/v1/communities/{cid}", headers=carol.headers)).json()["memberCount"] == 2

    # Joining again on his own is not possible: he may ask, and an admin decides.
    code = (await client.post(f"/v1/communities/{cid}/invites", json={}, headers=carol.headers)).json()["code"]
    by_invite = await client.post(f"/v1/communities/{cid}/join", json={"inviteCode": code}, headers=bob.headers)
    assert_problem(by_invite, 403, "member_removed")
    assert await db.fetchval("SELECT uses FROM invites WHERE code = $1", code) == 0
    asked = await client.post(f"/v1/communities/{cid}/join", headers=bob.headers)
    assert asked.status_code == 202
    approved = await client.post(
        f"/v1/communities/{cid}/join-requests/{asked.json()['request']['id']}/approve", headers=alice.headers
    )
    assert approved.status_code == 200
    assert (await client.get(members_url(cid), headers=bob.headers)).status_code == 200

    log = (await client.get(f"/v1/communities/{cid}/audit-log?action=member.removed", headers=alice.headers)).json()
    (entry,) = log["items"]
    assert entry["actorId"] == str(alice.id) and entry["subjectId"] == str(bob.id)
    assert entry["details"]["reason"] == "spam"
    assert_problem(await client.delete(members_url(cid, 999999), headers=alice.headers), 404, "not_found")


async def test_roles_promote_demote_and_who_may_remove_whom(client, people):
    alice, bob, carol, dave = people
    cid = (await create_community(client, alice))["id"]
    for person in (bob, carol, dave):
        await join(client, person, cid)

    promoted = await client.put(members_url(cid, bob.id), json={"role": "admin"}, headers=alice.headers)
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    admins = (await client.get(members_url(cid) + "?role=admin", headers=carol.headers)).json()["items"]
    assert [item["userId"] for item in admins] == [str(bob.id)]

    # An admin may not promote, may not remove another admin or the owner, may remove members.
    assert_problem(
        await client.put(members_url(cid, carol.id), json={"role": "admin"}, headers=bob.headers), 403, "forbidden"
    )
    await client.put(members_url(cid, carol.id), json={"role": "admin"}, headers=alice.headers)
    assert_problem(await client.delete(members_url(cid, carol.id), headers=bob.headers), 403, "forbidden")
    assert_problem(await client.delete(members_url(cid, alice.id), headers=bob.headers), 403, "forbidden")
    assert_problem(
        await client.put(members_url(cid, alice.id), json={"role": "member"}, headers=alice.headers),
        403,
        "forbidden",
    )
    assert_problem(await client.delete(members_url(cid, bob.id), headers=dave.headers), 403, "forbidden")
    assert (await client.delete(members_url(cid, dave.id), headers=bob.headers)).status_code == 204

    demoted = await client.put(members_url(cid, carol.id), json={"role": "member"}, headers=alice.headers)
    assert demoted.json()["role"] == "member"
    assert_problem(await client.get(f"/v1/communities/{cid}/audit-log", headers=carol.headers), 403, "forbidden")
    actions = await audit_actions(client, alice, cid)
    assert actions.count("member.promoted") == 2 and "member.demoted" in actions and "member.removed" in actions
    assert_problem(
        await client.put(members_url(cid, "99999999999999999"), json={}, headers=alice.headers),
        400,
        "validation_failed",
    )
    assert_problem(
        await client.put(members_url(cid, "someone"), json={}, headers=alice.headers), 400, "validation_failed"
    )


async def test_mute_by_admins_and_my_own_settings(client, people, db):
    alice, bob, carol, _ = people
    cid = (await create_community(client, alice))["id"]
    await join(client, bob, cid)
    await join(client, carol, cid)
    await client.put(members_url(cid, bob.id), json={"role": "admin"}, headers=alice.headers)

    muted = await client.put(members_url(cid, carol.id), json={"muteMinutes": 60}, headers=bob.headers)
    assert muted.status_code == 200 and muted.json()["mutedUntil"] is not None
    intro = await client.post(f"/v1/communities/{cid}/introduction", json={"text": "hi all"}, headers=carol.headers)
    assert_problem(intro, 403, "member_muted")
    # A link speaks for the community: a muted member creates none.
    invite = await client.post(f"/v1/communities/{cid}/invites", json={}, headers=carol.headers)
    assert_problem(invite, 403, "member_muted")
    with pytest.raises(Problem) as raised:
        await check_can_post(db, int(cid), carol.id)
    assert raised.value.code == "member_muted"
    # A mute survives leaving and coming back.
    await client.delete(members_url(cid, "me"), headers=carol.headers)
    await join(client, carol, cid)
    assert (await client.get(f"/v1/communities/{cid}", headers=carol.headers)).json()["membership"]["mutedUntil"]

    assert_problem(
        await client.put(members_url(cid, bob.id), json={"muteMinutes": 5}, headers=carol.headers), 403, "forbidden"
    )
    assert_problem(
        await client.put(members_url(cid, alice.id), json={"muteMinutes": 5}, headers=bob.headers), 403, "forbidden"
    )
    owner_mutes_admin = await client.put(members_url(cid, bob.id), json={"muteMinutes": 5}, headers=alice.headers)
    assert owner_mutes_admin.status_code == 200
    assert_problem(
        await client.put(members_url(cid, "me"), json={"muteMinutes": 5}, headers=carol.headers), 403, "forbidden"
    )
    assert_problem(
        await client.put(members_url(cid, carol.id), json={"muteMinutes": 43_201}, headers=alice.headers),
        400,
        "validation_failed",
    )
    unmuted = await client.put(members_url(cid, carol.id), json={"muteMinutes": 0}, headers=alice.headers)
    assert unmuted.json()["mutedUntil"] is None
    await check_can_post(db, int(cid), carol.id)

    mine = await client.put(
        members_url(cid, "me"), json={"notificationsMuted": True, "unfollowed": True}, headers=carol.headers
    )
    assert mine.json()["notificationsMuted"] is True and mine.json()["unfollowed"] is True
    only_one = await client.put(members_url(cid, "me"), json={"unfollowed": False}, headers=carol.headers)
    assert only_one.json()["notificationsMuted"] is True and only_one.json()["unfollowed"] is False
    listed = (await client.get("/v1/me/communities", headers=carol.headers)).json()["items"][0]
    assert listed["notificationsMuted"] is True and listed["unfollowed"] is False
    assert_problem(
        await client.put(members_url(cid, carol.id), json={"notificationsMuted": False}, headers=alice.headers),
        403,
        "forbidden",
    )
    actions = await audit_actions(client, alice, cid)
    assert actions.count("member.muted") == 2 and "member.unmuted" in actions


async def test_ownership_transfer(client, people):
    alice, bob, carol, _ = people
    cid = (await create_community(client, alice))["id"]
    await join(client, bob, cid)
    assert_problem(
        await client.post(
            f"/v1/communities/{cid}/ownership-transfer", json={"userId": str(carol.id)}, headers=alice.headers
        ),
        404,
        "not_found",
    )
    transferred = await client.post(
        f"/v1/communities/{cid}/ownership-transfer", json={"userId": str(bob.id)}, headers=alice.headers
    )
    assert transferred.status_code == 200 and transferred.json()["ownerId"] == str(bob.id)
    assert transferred.json()["membership"]["role"] == "admin"
    again = await client.post(
        f"/v1/communities/{cid}/ownership-transfer", json={"userId": str(bob.id)}, headers=alice.headers
    )
    assert_problem(again, 403, "forbidden")
    # The former owner is an admin now and may leave; the new owner may not.
    assert (await client.delete(members_url(cid, "me"), headers=alice.headers)).status_code == 204
    assert_problem(await client.delete(members_url(cid, "me"), headers=bob.headers), 409, "owner_must_transfer")
    assert "ownership.transferred" in await audit_actions(client, bob, cid)


async def test_ownership_handed_to_a_muted_member_lifts_the_mute(client, people, db):
    """Nobody mutes the owner, so nobody could lift a mute the new owner carried in: handed the community while
    muted for a month, they could not post in it, nor could anyone unmute them. The transfer lifts it."""
    alice, bob, *_ = people
    cid = (await create_community(client, alice))["id"]
    await join(client, bob, cid)
    muted = await client.put(members_url(cid, bob.id), json={"muteMinutes": 43_200}, headers=alice.headers)
    assert muted.status_code == 200 and muted.json()["mutedUntil"] is not None
    transferred = await client.post(
        f"/v1/communities/{cid}/ownership-transfer", json={"userId": str(bob.id)}, headers=alice.headers
    )
    assert transferred.status_code == 200, transferred.text
    mine = (await client.get(f"/v1/communities/{cid}", headers=bob.headers)).json()["membership"]
    assert mine["role"] == "owner" and mine["mutedUntil"] is None
    await check_can_post(db, int(cid), bob.id)
    listed = (await client.get(members_url(cid), params={"role": "owner"}, headers=alice.headers)).json()["items"]
    assert [(m["userId"], m["mutedUntil"]) for m in listed] == [(str(bob.id), None)]
    assert "member.unmuted" in await audit_actions(client, bob, cid)


async def test_introductions_and_newcomers(client, people, db):
    alice, bob, carol, dave = people
    cid = (await create_community(client, alice, introductionRequired=True))["id"]
    for person in (bob, carol, dave):
        await join(client, person, cid)
    with pytest.raises(Problem) as raised:
        await check_can_post(db, int(cid), bob.id)
    assert raised.value.code == "introduction_required"
    await check_can_post(db, int(cid), alice.id)  # the owner is not asked to introduce themselves

    photo = await upload_photo(client, bob, "introduction")
    response = await client.post(
        f"/v1/communities/{cid}/introduction",
        json={"text": "  I am Bob, I like tea.  ", "imageIds": [photo]},
        headers=bob.headers,
    )
    assert response.status_code == 201, response.text
    intro = response.json()
    assert intro["text"] == "I am Bob, I like tea." and intro["userId"] == str(bob.id)
    assert [image["id"] for image in intro["images"]] == [photo] and intro["imageUrls"] == []
    post = await db.fetchrow("SELECT * FROM posts WHERE id = $1", int(intro["postId"]))
    assert post["kind"] == "introduction" and post["author_id"] == bob.id
    assert post["image_ids"] == [int(photo)] and post["status"] == "pending"  # until WeChat passed the photo
    await check_can_post(db, int(cid), bob.id)  # introduced at once all the same
    assert_problem(
        await client.post(f"/v1/communities/{cid}/introduction", json={"text": "again"}, headers=bob.headers),
        409,
        "already_introduced",
    )
    someone_elses = {"text": "ok", "imageIds": [photo]}
    for body in ({"text": "   "}, {"text": "x" * 1001}, {"text": "ok", "imageIds": ["x"]}, someone_elses, {}):
        response = await client.post(f"/v1/communities/{cid}/introduction", json=body, headers=carol.headers)
        assert_problem(response, 400, "validation_failed")
    # Image URLs are no longer taken, from any host: the field is refused by name.
    body = {"text": "ok", "imageUrls": ["https://cdn.example.com/carol.jpg"]}
    response = await client.post(f"/v1/communities/{cid}/introduction", json=body, headers=carol.headers)
    [error] = assert_problem(response, 400, "validation_failed")["errors"]
    assert error["field"] == "imageUrls" and "`imageIds`" in error["message"]

    url = f"/v1/communities/{cid}/newcomers"
    missing = (await client.get(url, params={"introduced": "false"}, headers=alice.headers)).json()["items"]
    assert {item["nickname"] for item in missing} == {"Carol", "Dave", "Alice"}
    assert all(item["introduced"] is False for item in missing)
    everyone = (await client.get(url, params={"days": 1, "limit": 2}, headers=alice.headers)).json()
    assert len(everyone["items"]) == 2 and everyone["nextCursor"]
    rest = (await client.get(url, params={"days": 1, "cursor": everyone["nextCursor"]}, headers=alice.headers)).json()
    assert len(rest["items"]) == 2 and rest["nextCursor"] is None
    assert {i["nickname"] for i in everyone["items"] + rest["items"]} == {"Alice", "Bob", "Carol", "Dave"}
    await db.execute(
        "UPDATE memberships SET joined_at = now() - interval '10 days' WHERE community_id = $1 AND user_id = $2",
        int(cid),
        dave.id,
    )
    recent = (await client.get(url, params={"introduced": "false"}, headers=alice.headers)).json()["items"]
    assert "Dave" not in {item["nickname"] for item in recent}
    assert_problem(await client.get(url, headers=carol.headers), 403, "forbidden")
    assert_problem(await client.get(url + "?days=91", headers=alice.headers), 400, "validation_failed")
    members = (await client.get(members_url(cid), headers=carol.headers)).json()["items"]
    assert {m["nickname"]: m["introduced"] for m in members}["Bob"] is True


async def test_a_member_or_admin_of_one_community_can_do_nothing_in_another(client, people, db):
    """IDOR: every route checks the caller's standing in the community named in the path."""
    alice, bob, carol, dave = people
    a = (await create_community(client, alice, name="A"))["id"]
    b = (await create_community(client, carol, name="B", entryMode="approval"))["id"]
    await join(client, bob, a)
    await client.put(members_url(a, bob.id), json={"role": "admin"}, headers=alice.headers)
    b_request = (await join(client, dave, b))["request"]["id"]
    b_code = (await client.post(f"/v1/communities/{b}/invites", json={}, headers=carol.headers)).json()["code"]

    for who in (alice, bob):  # A's owner and A's admin
        h = who.headers
        attempts = [
            await client.put(f"/v1/communities/{b}", json={"description": "mine now"}, headers=h),
            await client.get(members_url(b), headers=h),
            await client.put(members_url(b, carol.id), json={"muteMinutes": 10}, headers=h),
            await client.put(members_url(b, carol.id), json={"role": "member"}, headers=h),
            await client.delete(members_url(b, carol.id), headers=h),
            await client.get(f"/v1/communities/{b}/join-requests", headers=h),
            await client.post(f"/v1/communities/{b}/join-requests/{b_request}/approve", headers=h),
            await client.post(f"/v1/communities/{b}/join-requests/{b_request}/reject", headers=h),
            await client.get(f"/v1/communities/{b}/audit-log", headers=h),
            await client.get(f"/v1/communities/{b}/newcomers", headers=h),
            await client.get(f"/v1/communities/{b}/invites", headers=h),
            await client.post(f"/v1/communities/{b}/invites", json={}, headers=h),
            await client.delete(f"/v1/communities/{b}/invites/{b_code}", headers=h),
            await client.post(f"/v1/communities/{b}/introduction", json={"text": "hi"}, headers=h),
            await client.post(f"/v1/communities/{b}/read", headers=h),
            await client.post(f"/v1/communities/{b}/ownership-transfer", json={"userId": str(who.id)}, headers=h),
        ]
        for response in attempts:
            assert_problem(response, 403, "not_member")
        # B's request id through A's path is not A's request.
        through_a = await client.post(f"/v1/communities/{a}/join-requests/{b_request}/approve", headers=h)
        assert_problem(through_a, 404, "not_found")
        # Carol is not A's member: A's admins cannot touch her through A either.
        assert_problem(await client.delete(members_url(a, carol.id), headers=h), 404, "not_found")
        # B's invite code is not valid for A.
        assert_problem(
            await client.post(f"/v1/communities/{a}/join", json={"inviteCode": b_code}, headers=dave.headers),
            404,
            "invite_not_found",
        )

    b_state = await db.fetchrow("SELECT description, member_count, owner_id FROM communities WHERE id = $1", int(b))
    assert (b_state["description"], b_state["member_count"], b_state["owner_id"]) == ("", 1, carol.id)
    assert await db.fetchval("SELECT status FROM join_requests WHERE id = $1", int(b_request)) == "pending"
    assert await db.fetchval("SELECT revoked_at FROM invites WHERE code = $1", b_code) is None
    assert await db.fetchval("SELECT count(*) FROM community_audit_log WHERE community_id = $1", int(b)) == 2


async def test_creating_communities_and_invite_links_is_rate_limited(database_url, sandbox, people):
    """100 of each from one user in 0.9 s were accepted."""
    alice, bob, _, _ = people
    limited = make_settings(database_url, wechat_api_base=sandbox.url, create_rate_communities=2, create_rate_invites=3)
    async with api_client(limited) as api:
        first = await create_community(api, alice)
        keyed = {**alice.headers, "Idempotency-Key": "second"}
        second = await api.post("/v1/communities", json={"name": "晨跑"}, headers=keyed)
        assert second.status_code == 201, second.text
        third = await api.post("/v1/communities", json={"name": "夜跑"}, headers=alice.headers)
        assert_problem(third, 429, "rate_limited")
        assert int(third.headers["retry-after"]) <= limited.create_rate_window
        # A retry of one that was created answers it again, uncounted.
        retried = await api.post("/v1/communities", json={"name": "晨跑"}, headers=keyed)
        assert retried.status_code == 201 and retried.json()["id"] == second.json()["id"]
        assert len((await api.get("/v1/me/communities", headers=alice.headers)).json()["items"]) == 2
        assert (await create_community(api, bob))["id"]  # per user

        url = f"/v1/communities/{first['id']}/invites"
        for _ in range(3):
            assert (await api.post(url, json={}, headers=alice.headers)).status_code == 201
        assert_problem(await api.post(url, json={}, headers=alice.headers), 429, "rate_limited")
        listed = await api.get(url, headers=alice.headers)
        assert len(listed.json()["items"]) == 3  # nothing half-written


async def test_a_member_past_the_community_limit_costs_no_content_check(database_url, sandbox, people):
    """The limit counts created communities only, but it is read before WeChat is asked (as the feed's flood limit
    is): past it, a request answers 429 without a msg_sec_check, with WeChat down too (not 503, nor 422)."""
    alice, *_ = people
    limited = make_settings(database_url, wechat_api_base=sandbox.url, create_rate_communities=1)
    async with api_client(limited) as api:
        await create_community(api, alice)
        checks = (await sandbox.stats())["msg_sec_check"]
        risky = await api.post("/v1/communities", json={"name": "sandbox-risky 夜跑"}, headers=alice.headers)
        assert_problem(risky, 429, "rate_limited")
        await sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
        try:
            down = await api.post("/v1/communities", json={"name": "夜跑"}, headers=alice.headers)
        finally:
            await sandbox.control("DELETE", "/sandbox/faults")
        assert_problem(down, 429, "rate_limited")
        assert int(down.headers["retry-after"]) <= limited.create_rate_window
        assert (await sandbox.stats())["msg_sec_check"] == checks


async def test_an_introduction_that_cannot_be_kept_asks_wechat_nothing(client, people, sandbox):
    """A muted member's introduction and a second one were refused only after WeChat had checked the text, so each
    attempt spent the app's content-check quota (the title of a collection, a post or a comment is refused before
    WeChat is asked). Both are refused first now; a retry with the Idempotency-Key of an introduction that went
    through still answers it (replayed), not already_introduced."""
    alice, bob, carol, _ = people
    cid = (await create_community(client, alice))["id"]
    for person in (bob, carol):
        await join(client, person, cid)
    muted = await client.put(members_url(cid, bob.id), json={"muteMinutes": 60}, headers=alice.headers)
    assert muted.status_code == 200, muted.text
    url = f"/v1/communities/{cid}/introduction"
    checks = (await sandbox.stats())["msg_sec_check"]
    assert_problem(await client.post(url, json={"text": "我是 Bob"}, headers=bob.headers), 403, "member_muted")
    assert (await sandbox.stats())["msg_sec_check"] == checks

    keyed = {**carol.headers, "Idempotency-Key": "intro-1"}
    first = await client.post(url, json={"text": "我是 Carol，喜欢跑步"}, headers=keyed)
    assert first.status_code == 201, first.text
    checks = (await sandbox.stats())["msg_sec_check"]
    again = await client.post(url, json={"text": "我是 Carol，喜欢跑步"}, headers=keyed)
    assert (again.status_code, again.json()["postId"]) == (201, first.json()["postId"])
    assert again.headers.get("Idempotent-Replayed") == "true"
    second = await client.post(url, json={"text": "再介绍一次"}, headers=carol.headers)
    assert_problem(second, 409, "already_introduced")
    assert (await sandbox.stats())["msg_sec_check"] == checks
