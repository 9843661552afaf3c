"""The cap and the use limits hold under concurrency: many real HTTP requests at once against one app."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
import pytest

from tests.factories import create_community, create_users, join
from tests.support import api_client, make_settings


@pytest.fixture
async def busy_client(database_url, sandbox):
    # A pool big enough that requests really do race inside PostgreSQL rather than queue for a connection; the
    # sandbox checks the texts of the communities created.
    async with api_client(make_settings(database_url, db_pool_max=30, wechat_api_base=sandbox.url)) as client:
        yield client


@pytest.fixture
async def db(database_url):
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


async def post_all(client, requests: list[tuple[str, dict, dict]]) -> list:
    return await asyncio.gather(*(client.post(url, json=body, headers=headers) for url, body, headers in requests))


def outcomes(responses) -> Counter:
    return Counter(r.json().get("outcome") or r.json().get("code") for r in responses)


async def test_200_concurrent_joins_fill_a_cap_of_100_exactly(busy_client, database_url, settings, db):
    owner, *joiners = await create_users(database_url, settings, *(f"u{i}" for i in range(201)))
    community = await create_community(busy_client, owner, memberCap=100)
    cid = community["id"]
    responses = await post_all(busy_client, [(f"/v1/communities/{cid}/join", {}, u.headers) for u in joiners])

    assert all(r.status_code in (201, 409) for r in responses), {r.status_code for r in responses}
    assert outcomes(responses) == {"joined": 99, "community_full": 101}  # the owner holds the first place
    assert await db.fetchval("SELECT member_count FROM communities WHERE id = $1", int(cid)) == 100
    active = "SELECT count(*) FROM memberships WHERE community_id = $1 AND status = 'active'"
    assert await db.fetchval(active, int(cid)) == 100
    assert await db.fetchval("SELECT count(*) FROM posts WHERE kind = 'welcome'") == 99
    joined = "SELECT count(*) FROM community_audit_log WHERE action = 'member.joined' AND community_id = $1"
    assert await db.fetchval(joined, int(cid)) == 99

    # A departure frees exactly one place.
    admitted = next(u for u, r in zip(joiners, responses, strict=True) if r.status_code == 201)
    refused = [u for u, r in zip(joiners, responses, strict=True) if r.status_code == 409]
    await busy_client.delete(f"/v1/communities/{cid}/members/me", headers=admitted.headers)
    second_wave = await post_all(busy_client, [(f"/v1/communities/{cid}/join", {}, u.headers) for u in refused[:20]])
    assert outcomes(second_wave) == {"joined": 1, "community_full": 19}


async def test_the_same_member_joining_many_times_at_once_is_admitted_once(busy_client, database_url, settings, db):
    owner, member = await create_users(database_url, settings, "owner", "member")
    cid = (await create_community(busy_client, owner))["id"]
    url = f"/v1/communities/{cid}/join"
    plain = await post_all(busy_client, [(url, {}, member.headers)] * 10)
    assert outcomes(plain) == {"joined": 1, "already_member": 9}

    other = (await create_community(busy_client, owner))["id"]
    keyed = {**member.headers, "Idempotency-Key": "double-tap"}
    retries = await post_all(busy_client, [(f"/v1/communities/{other}/join", {}, keyed)] * 10)
    assert {r.status_code for r in retries} == {201}
    assert len({r.content for r in retries}) == 1  # every retry got the first answer, byte for byte
    assert await db.fetchval("SELECT member_count FROM communities WHERE id = $1", int(other)) == 2


async def test_concurrent_approvals_respect_the_cap(busy_client, database_url, settings, db):
    owner, admin, *applicants = await create_users(database_url, settings, *(f"a{i}" for i in range(32)))
    cid = (await create_community(busy_client, owner, entryMode="approval", memberCap=12))["id"]
    admin_request = (await join(busy_client, admin, cid))["request"]["id"]
    await busy_client.post(f"/v1/communities/{cid}/join-requests/{admin_request}/approve", headers=owner.headers)
    await busy_client.put(f"/v1/communities/{cid}/members/{admin.id}", json={"role": "admin"}, headers=owner.headers)
    requests = await post_all(busy_client, [(f"/v1/communities/{cid}/join", {}, u.headers) for u in applicants])
    ids = [r.json()["request"]["id"] for r in requests]

    # Owner and admin approve every request at the same time, each request twice.
    base = f"/v1/communities/{cid}/join-requests"
    calls = [(f"{base}/{rid}/approve", {}, who.headers) for rid in ids for who in (owner, admin)]
    responses = await post_all(busy_client, calls)
    assert {r.status_code for r in responses} <= {200, 409}
    assert await db.fetchval("SELECT member_count FROM communities WHERE id = $1", int(cid)) == 12
    approved = await db.fetchval(
        "SELECT count(*) FROM join_requests WHERE community_id = $1 AND status = 'approved'", int(cid)
    )
    assert approved == 11  # the admin's own request and ten of the thirty
    assert await db.fetchval("SELECT count(*) FROM posts WHERE kind = 'welcome'") == 11
    codes = Counter(r.json().get("code") for r in responses if r.status_code == 409)
    assert set(codes) == {"community_full"}


async def test_concurrent_invite_uses_respect_the_use_limit(busy_client, database_url, settings, db):
    owner, *guests = await create_users(database_url, settings, *(f"g{i}" for i in range(41)))
    cid = (await create_community(busy_client, owner))["id"]
    invite = await busy_client.post(f"/v1/communities/{cid}/invites", json={"maxUses": 5}, headers=owner.headers)
    code = invite.json()["code"]
    responses = await post_all(
        busy_client, [(f"/v1/communities/{cid}/join", {"inviteCode": code}, g.headers) for g in guests]
    )
    assert outcomes(responses) == {"joined": 5, "invite_used_up": 35}
    assert await db.fetchval("SELECT uses FROM invites WHERE code = $1", code) == 5
    assert await db.fetchval("SELECT count(*) FROM referrals WHERE community_id = $1", int(cid)) == 5


async def test_invite_uses_and_the_cap_race_together(busy_client, database_url, settings, db):
    """Fewer places than invite uses: a use is only spent by an admission that happened."""
    owner, *guests = await create_users(database_url, settings, *(f"h{i}" for i in range(31)))
    cid = (await create_community(busy_client, owner, memberCap=4))["id"]
    code = (
        await busy_client.post(f"/v1/communities/{cid}/invites", json={"maxUses": 10}, headers=owner.headers)
    ).json()["code"]
    responses = await post_all(
        busy_client, [(f"/v1/communities/{cid}/join", {"inviteCode": code}, g.headers) for g in guests]
    )
    assert outcomes(responses) == {"joined": 3, "community_full": 27}
    assert await db.fetchval("SELECT uses FROM invites WHERE code = $1", code) == 3


async def test_a_join_slow_to_reach_the_lock_is_not_skipped_by_the_member_list(busy_client, database_url, settings, db):
    """The member list pages in joining order (joined_at, then id). A join stamped with its transaction's start
    (now()) but admitted after a later one (here its invite row is held) slotted in behind a cursor already read:
    the member was on no page. The joining time is taken under the community's lock, in admission order."""
    owner, bob, carol, dave, erin = await create_users(database_url, settings, "Owner", "Bob", "Carol", "Dave", "Erin")
    cid = (await create_community(busy_client, owner))["id"]
    await join(busy_client, bob, cid)
    code = (await busy_client.post(f"/v1/communities/{cid}/invites", json={}, headers=owner.headers)).json()["code"]
    holder = await asyncpg.connect(database_url)
    try:
        held = holder.transaction()
        await held.start()
        await holder.execute("SELECT 1 FROM invites WHERE code = $1 FOR UPDATE", code)
        slow = asyncio.create_task(
            busy_client.post(f"/v1/communities/{cid}/join", json={"inviteCode": code}, headers=carol.headers)
        )
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%invites%'"
        for _ in range(200):
            if await db.fetchval(waiting):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the invite join never waited on the held invite")
        await join(busy_client, dave, cid)
        await join(busy_client, erin, cid)
        url = f"/v1/communities/{cid}/members"
        first = (await busy_client.get(url, params={"limit": 3}, headers=owner.headers)).json()
        await held.rollback()
        assert (await slow).status_code == 201
    finally:
        await holder.close()
    rest = (await busy_client.get(url, params={"cursor": first["nextCursor"]}, headers=owner.headers)).json()
    listed = [item["nickname"] for item in first["items"] + rest["items"]]
    assert listed == ["Owner", "Bob", "Dave", "Erin", "Carol"]


async def _wait_for_lock_waits(db, count: int) -> None:
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    for _ in range(250):
        if await db.fetchval(waiting) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never saw {count} requests waiting on a lock")


async def _one_after_another(database_url, db, hold: tuple, first, second) -> tuple:
    """Run two calls in a forced order: ``hold`` (SQL and arguments) is held in a transaction of its own, ``first``
    is sent and waits on it, then ``second`` is sent and waits too; then the hold is let go. Their responses."""
    holder = await asyncpg.connect(database_url)
    try:
        held = holder.transaction()
        await held.start()
        await holder.execute(*hold)
        one = asyncio.create_task(first)
        await _wait_for_lock_waits(db, 1)
        two = asyncio.create_task(second)
        await _wait_for_lock_waits(db, 2)
        await held.rollback()
        return await asyncio.gather(one, two)
    finally:
        await holder.close()


async def test_a_join_request_and_an_invite_join_at_once_leave_no_pending_request_beside_the_membership(
    busy_client, database_url, settings, db
):
    """The invite's admission is held just before it commits (the audit log is locked; a join request writes
    none), with the community's row locked for its admission. The request of the same member, sent then, read
    "not a member" and inserted a pending request that waited on that row and went in once the admission committed:
    a member with a pending request, which an admin could then reject (a rejection notice to a member). Under the
    fix the request reads the membership under the row's lock and answers already_member."""
    owner, guest = await create_users(database_url, settings, "Owner", "Guest")
    cid = (await create_community(busy_client, owner, entryMode="approval"))["id"]
    code = (await busy_client.post(f"/v1/communities/{cid}/invites", json={}, headers=owner.headers)).json()["code"]
    url = f"/v1/communities/{cid}/join"
    invited, asked = await _one_after_another(
        database_url,
        db,
        ("LOCK TABLE community_audit_log IN SHARE MODE",),
        busy_client.post(url, json={"inviteCode": code}, headers=guest.headers),
        busy_client.post(url, json={"message": "想加入"}, headers=guest.headers),
    )

    assert invited.status_code == 201 and invited.json()["outcome"] == "joined"
    assert (asked.status_code, asked.json()["outcome"]) == (200, "already_member")
    pending = "SELECT count(*) FROM join_requests WHERE community_id = $1 AND status = 'pending'"
    assert await db.fetchval(pending, int(cid)) == 0
    queue = await busy_client.get(f"/v1/communities/{cid}/join-requests", headers=owner.headers)
    assert queue.json()["items"] == []
    assert await db.fetchval("SELECT member_count FROM communities WHERE id = $1", int(cid)) == 2


async def test_approving_a_request_of_one_who_came_in_by_invite_admits_nobody_twice(
    busy_client, database_url, settings, db
):
    """The request came first, the invite admitted them before an admin looked: the admission settled the request,
    so approving it now is refused (request_not_pending) and changes nothing; so is rejecting it (no rejection
    notice to a member). The approval and the invite at the same instant: one admission, one welcome, no deadlock."""
    owner, guest, other = await create_users(database_url, settings, "Owner", "Guest", "Other")
    cid = (await create_community(busy_client, owner, entryMode="approval"))["id"]
    base = f"/v1/communities/{cid}/join-requests"
    code = (
        await busy_client.post(f"/v1/communities/{cid}/invites", json={"maxUses": 5}, headers=owner.headers)
    ).json()["code"]
    request_id = (await join(busy_client, guest, cid, message="hi"))["request"]["id"]
    assert (await join(busy_client, guest, cid, inviteCode=code))["outcome"] == "joined"
    for verb in ("approve", "reject"):
        late = await busy_client.post(f"{base}/{request_id}/{verb}", json={}, headers=owner.headers)
        assert (late.status_code, late.json()["code"]) == (409, "request_not_pending"), late.text
    status = await db.fetchval("SELECT status FROM join_requests WHERE id = $1", int(request_id))
    assert status == "cancelled"

    # The approval and the invite at the same instant. The community's row is held (key share) so that the invite's
    # admission queues for it first, the approval second: the approval held the request's row and waited for the
    # community, the invite's admission held the community and waited for the request's row (to cancel it):
    # a deadlock, and a 500 for one of them. The approval now takes the community's lock before the request's.
    other_request = (await join(busy_client, other, cid))["request"]["id"]
    hold = ("SELECT 1 FROM communities WHERE id = $1 FOR KEY SHARE", int(cid))
    join_url = f"/v1/communities/{cid}/join"
    invited, approved = await _one_after_another(
        database_url,
        db,
        hold,
        busy_client.post(join_url, json={"inviteCode": code}, headers=other.headers),
        busy_client.post(f"{base}/{other_request}/approve", headers=owner.headers),
    )
    assert (invited.status_code, invited.json()["outcome"]) == (201, "joined")
    assert (approved.status_code, approved.json()["code"]) == (409, "request_not_pending")
    assert await db.fetchval("SELECT member_count FROM communities WHERE id = $1", int(cid)) == 3
    joined = "SELECT count(*) FROM community_audit_log WHERE action = 'member.joined' AND subject_id = $1"
    assert await db.fetchval(joined, other.id) == 1
    assert await db.fetchval("SELECT count(*) FROM posts WHERE kind = 'welcome' AND community_id = $1", int(cid)) == 2
    pending = "SELECT count(*) FROM join_requests WHERE community_id = $1 AND status = 'pending'"
    assert await db.fetchval(pending, int(cid)) == 0


async def test_a_rejection_and_an_invite_at_once_do_not_deadlock(busy_client, database_url, settings, db):
    """The rejection held the request's row while its audit entry waited (here on the held audit log); the
    invite's admission took the community and waited to cancel that request; the audit entry's key share on the
    community then waited for the admission: a deadlock, a 500 for one of them. Now the rejection holds the
    community (key share) before the request: it goes first, the invite admits after."""
    owner, guest = await create_users(database_url, settings, "Owner", "Guest")
    cid = (await create_community(busy_client, owner, entryMode="approval"))["id"]
    code = (await busy_client.post(f"/v1/communities/{cid}/invites", json={}, headers=owner.headers)).json()["code"]
    request_id = (await join(busy_client, guest, cid))["request"]["id"]
    rejected, invited = await _one_after_another(
        database_url,
        db,
        ("LOCK TABLE community_audit_log IN SHARE MODE",),
        busy_client.post(
            f"/v1/communities/{cid}/join-requests/{request_id}/reject", json={"reason": "满了"}, headers=owner.headers
        ),
        busy_client.post(f"/v1/communities/{cid}/join", json={"inviteCode": code}, headers=guest.headers),
    )
    assert (rejected.status_code, rejected.json()["status"]) == (200, "rejected")
    assert (invited.status_code, invited.json()["outcome"]) == (201, "joined")
    assert await db.fetchval("SELECT member_count FROM communities WHERE id = $1", int(cid)) == 2
