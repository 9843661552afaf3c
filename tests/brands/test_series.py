"""Sister communities over real HTTP: joins to a full community of a series go to the next sister with room,
a new sister is opened (numbered name, the template's settings and robots, its own welcome ceremony) when all are
full, and a plain member belongs to one sister of a series at a time — under 300 concurrent joins too."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import asyncpg
import pytest

from tests.factories import create_users
from tests.support import api_client, make_settings
from tests.world import assert_problem, notices, sign_in

WELCOME = "欢迎 {nickname} 加入「{community}」"


@pytest.fixture
async def busy_client(database_url, sandbox):
    # A pool big enough that the joins really race inside PostgreSQL rather than queue for a connection.
    async with api_client(make_settings(database_url, wechat_api_base=sandbox.url, db_pool_max=30)) as client:
        yield client


async def call(client, method: str, url: str, who, expect: int = 200, **kw) -> dict:
    response = await client.request(method, url, headers=who.headers, **kw)
    assert response.status_code == expect, response.text
    return response.json() if response.content else {}


async def series_of(client, owner, **community) -> tuple[str, str]:
    """A brand of ``owner`` with one community that is the template of a series named 跑团; (community, series)."""
    brand = await call(client, "POST", "/v1/brands", owner, 201, json={"name": "山野跑团"})
    body = {"name": "跑团 1群", "welcomeTemplate": WELCOME, **community}
    cid = (await call(client, "POST", "/v1/communities", owner, 201, json=body))["id"]
    await call(client, "POST", f"/v1/brands/{brand['id']}/communities", owner, json={"communityId": cid})
    created = {"communityId": cid, "name": "跑团"}
    series = await call(client, "POST", f"/v1/brands/{brand['id']}/series", owner, 201, json=created)
    return cid, series["id"]


async def test_300_concurrent_joins_fill_sisters_of_100_exactly_and_open_new_ones(
    busy_client, sandbox, database_url, settings, db
):
    owner = await sign_in(busy_client, sandbox, "团长", nickname=True)
    joiners = await create_users(database_url, settings, *(f"跑友{i}" for i in range(300)))
    cid, series_id = await series_of(busy_client, owner, memberCap=100)
    rule = {"keyword": "报名", "reply": "报名请看群公告置顶～"}
    await call(busy_client, "POST", f"/v1/communities/{cid}/robot-rules", owner, 201, json=rule)

    started = time.monotonic()
    answers = await asyncio.gather(
        *(busy_client.post(f"/v1/communities/{cid}/join", headers=u.headers) for u in joiners)
    )
    elapsed = time.monotonic() - started
    assert Counter(a.status_code for a in answers) == {201: 300}, {a.text for a in answers if a.status_code != 201}
    placed = Counter(a.json()["communityId"] for a in answers)

    series = await call(busy_client, "GET", f"/v1/series/{series_id}", owner)
    sisters = [(s["name"], s["memberCount"], s["hasRoom"]) for s in series["sisters"]]
    # The owner holds a place in each: three sisters of 99 newcomers fill exactly, the last 3 open a fourth.
    assert sisters == [
        ("跑团 1群", 100, False),
        ("跑团 2群", 100, False),
        ("跑团 3群", 100, False),
        ("跑团 4群", 4, True),
    ]
    ids = [int(s["id"]) for s in series["sisters"]]
    assert [placed[str(i)] for i in ids] == [99, 99, 99, 3]
    for community_id, (name, count, _) in zip(ids, sisters, strict=True):
        active = "SELECT count(*) FROM memberships WHERE community_id = $1 AND status = 'active'"
        assert await db.fetchval(active, community_id) == count
        # Each sister's own welcome ceremony, naming it; and the template's settings and robots.
        welcomes = await db.fetch("SELECT text FROM posts WHERE community_id = $1 AND kind = 'welcome'", community_id)
        assert len(welcomes) == count - 1 and all(f"加入「{name}」" in w["text"] for w in welcomes)
        row = await db.fetchrow("SELECT member_cap, welcome_template FROM communities WHERE id = $1", community_id)
        assert tuple(row) == (100, WELCOME)
        rules = "SELECT keyword, reply FROM robot_rules WHERE community_id = $1 AND deleted_at IS NULL"
        assert [tuple(r) for r in await db.fetch(rules, community_id)] == [("报名", rule["reply"])]
    # Nobody admitted twice: one plain membership per series.
    twice = """
        SELECT m.user_id FROM memberships m JOIN communities c ON c.id = m.community_id
        WHERE c.series_id = $1 AND m.status = 'active' AND m.role = 'member'
        GROUP BY m.user_id HAVING count(*) > 1"""
    assert await db.fetch(twice, int(series_id)) == []
    opened = "SELECT count(*) FROM community_audit_log WHERE action = 'community.opened'"
    assert await db.fetchval(opened) == 3
    assert elapsed < 20, f"300 joins took {elapsed:.1f} s"


async def test_one_sister_at_a_time_and_approvals_overflow_too(client, sandbox, db):
    owner, runner, applicant, late = [
        await sign_in(client, sandbox, n, nickname=True) for n in ("团长", "小跑", "小申", "小迟")
    ]
    cid, series_id = await series_of(client, owner, memberCap=2)
    joined = await call(client, "POST", f"/v1/communities/{cid}/join", runner, 201)
    assert joined["communityId"] == cid  # the asked one had room
    # Full now: the next join opens 跑团 2群 and says so.
    second = await call(client, "POST", f"/v1/communities/{cid}/join", applicant, 201)
    sister = second["communityId"]
    assert sister != cid and second["welcome"]["text"] == "欢迎 小申 加入「跑团 2群」"
    # A plain member of one sister cannot join another; leaving lets them move.
    assert_problem(
        await client.post(f"/v1/communities/{cid}/join", headers=applicant.headers), 409, "already_in_series"
    )
    assert_problem(
        await client.post(f"/v1/communities/{sister}/join", headers=runner.headers), 409, "already_in_series"
    )
    await call(client, "DELETE", f"/v1/communities/{sister}/members/me", applicant, 204)
    moved = await call(client, "POST", f"/v1/communities/{cid}/join", applicant, 201)
    assert moved["communityId"] == sister  # 1群 is still full: back into the sister with room
    mine = await call(client, "GET", f"/v1/series/{series_id}", applicant)
    assert mine["myCommunityId"] == sister

    # Approval: a full community of a series still takes requests; approving admits to a sister with room.
    await call(client, "PUT", f"/v1/communities/{cid}", owner, json={"entryMode": "approval"})
    request = (await call(client, "POST", f"/v1/communities/{cid}/join", late, 202))["request"]
    await call(client, "POST", f"/v1/communities/{cid}/join-requests/{request['id']}/approve", owner)
    series = await call(client, "GET", f"/v1/series/{series_id}", late)
    assert [(s["name"], s["memberCount"]) for s in series["sisters"]] == [
        ("跑团 1群", 2),
        ("跑团 2群", 2),
        ("跑团 3群", 2),
    ]
    assert series["myCommunityId"] == series["sisters"][2]["id"]
    # The brand's team sees every sister on the brand page, and strangers no series they cannot find.
    assert_problem(await client.get("/v1/series/999999", headers=late.headers), 404, "not_found")


async def test_an_admin_who_is_a_plain_member_of_a_sister_is_not_demoted_into_a_second_one(client, sandbox, db):
    owner, runner, first = [await sign_in(client, sandbox, n, nickname=True) for n in ("团长", "小跑", "小甲")]
    cid, series_id = await series_of(client, owner, memberCap=2)
    await call(client, "POST", f"/v1/communities/{cid}/join", runner, 201)  # 1群 is full now
    await call(client, "PUT", f"/v1/communities/{cid}/members/{runner.id}", owner, json={"role": "admin"})
    second = (await call(client, "POST", f"/v1/communities/{cid}/join", first, 201))["communityId"]  # opens 2群
    # Staff may hold roles in several sisters: the admin of 1群 joins the series as a plain member (2群 is full
    # too, so 3群 opens).
    sister = (await call(client, "POST", f"/v1/communities/{second}/join", runner, 201))["communityId"]
    # Demoted in 1群 they would be a plain member of two sisters: refused, they stay an admin there.
    demoted = await client.put(
        f"/v1/communities/{cid}/members/{runner.id}", json={"role": "member"}, headers=owner.headers
    )
    assert_problem(demoted, 409, "already_in_series")
    plain = await db.fetch(
        "SELECT m.community_id FROM memberships m JOIN communities c ON c.id = m.community_id "
        "WHERE c.series_id = $1 AND m.user_id = $2 AND m.status = 'active' AND m.role = 'member'",
        int(series_id),
        runner.id,
    )
    assert [r["community_id"] for r in plain] == [int(sister)]
    # Once they left the sister, the demotion goes through.
    await call(client, "DELETE", f"/v1/communities/{sister}/members/me", runner, 204)
    again = await call(client, "PUT", f"/v1/communities/{cid}/members/{runner.id}", owner, json={"role": "member"})
    assert again["role"] == "member"


async def test_a_member_removed_from_a_sister_is_never_placed_back_in_it_by_another(client, sandbox, db):
    owner, runner, applicant = [await sign_in(client, sandbox, n, nickname=True) for n in ("团长", "小跑", "小申")]
    cid, series_id = await series_of(client, owner, memberCap=2)
    await call(client, "POST", f"/v1/communities/{cid}/join", runner, 201)  # 1群 is full now
    sister = (await call(client, "POST", f"/v1/communities/{cid}/join", applicant, 201))["communityId"]  # 2群
    await call(client, "DELETE", f"/v1/communities/{cid}/members/{runner.id}", owner, 204)  # 1群 has room again
    # Asking the full 2群, the removed member is not sent to the one sister with room, 1群, where they were removed:
    # a free join answered 409 member_removed for a community they never asked; an approval in 2群 let them back
    # into 1群. Only 1群's own approval lets them back there; the series opens a sister instead.
    await call(client, "PUT", f"/v1/communities/{sister}", owner, json={"entryMode": "approval"})
    request = (await call(client, "POST", f"/v1/communities/{sister}/join", runner, 202))["request"]
    await call(client, "POST", f"/v1/communities/{sister}/join-requests/{request['id']}/approve", owner)
    series = await call(client, "GET", f"/v1/series/{series_id}", runner)
    assert [(s["name"], s["memberCount"]) for s in series["sisters"]] == [
        ("跑团 1群", 1),
        ("跑团 2群", 2),
        ("跑团 3群", 2),
    ]
    assert series["myCommunityId"] == series["sisters"][2]["id"]
    status = "SELECT status FROM memberships WHERE community_id = $1 AND user_id = $2"
    assert await db.fetchval(status, int(cid), runner.id) == "removed"

    # A free sister: the same, a sister with room where they were not removed (3群 is full, 4群 opens).
    await call(client, "DELETE", f"/v1/communities/{series['sisters'][2]['id']}/members/me", runner, 204)
    await call(client, "PUT", f"/v1/communities/{sister}", owner, json={"entryMode": "free"})
    joined = await call(client, "POST", f"/v1/communities/{sister}/join", runner, 201)
    assert joined["communityId"] == series["sisters"][2]["id"]  # 3群 has room again: not 1群
    assert await db.fetchval(status, int(cid), runner.id) == "removed"


async def test_an_invite_that_admits_to_a_sister_settles_the_request_to_the_one_asked(client, sandbox, db):
    """One plain membership per series: the guest asked 1群 (full), then an invite of 1群 admitted them to 2群. The
    request to 1群 stayed pending (only the placed sister's was cancelled): in the admins' queue, where approving
    answered already_in_series and rejecting sent a member of the series a rejection notice. And a plain member of
    a sister could file a request to another, which an approval could only refuse."""
    owner, runner, guest, other = [
        await sign_in(client, sandbox, n, nickname=True) for n in ("团长", "小跑", "小客", "小别")
    ]
    cid, _ = await series_of(client, owner, memberCap=2, entryMode="approval")
    asked = (await call(client, "POST", f"/v1/communities/{cid}/join", runner, 202))["request"]
    await call(client, "POST", f"/v1/communities/{cid}/join-requests/{asked['id']}/approve", owner)  # 1群 is full
    request = (await call(client, "POST", f"/v1/communities/{cid}/join", guest, 202))["request"]
    code = (await call(client, "POST", f"/v1/communities/{cid}/invites", owner, 201, json={}))["code"]
    joined = await call(client, "POST", f"/v1/communities/{cid}/join", guest, 201, json={"inviteCode": code})
    sister = joined["communityId"]
    assert sister != cid  # 2群, opened

    status = "SELECT status FROM join_requests WHERE id = $1"
    assert await db.fetchval(status, int(request["id"])) == "cancelled"
    assert (await call(client, "GET", f"/v1/communities/{cid}/join-requests", owner))["items"] == []
    assert (await call(client, "GET", f"/v1/communities/{cid}", guest))["joinRequest"]["status"] == "cancelled"
    # Asking 1群 again, as a plain member of 2群: refused as a join is, nothing kept.
    again = await client.post(f"/v1/communities/{cid}/join", json={"message": "换群"}, headers=guest.headers)
    assert_problem(again, 409, "already_in_series")
    pending = "SELECT count(*) FROM join_requests WHERE user_id = $1 AND status = 'pending'"
    assert await db.fetchval(pending, guest.id) == 0
    # Someone outside the series still asks as before.
    assert (await call(client, "POST", f"/v1/communities/{cid}/join", other, 202))["outcome"] == "pending"


async def test_a_request_to_a_sister_racing_an_admission_to_another_is_refused(busy_client, sandbox, db, database_url):
    """The guest's admission to 2群 (by an invite of the full 1群) is held just before it commits; their request to
    1群, sent then, read "not in the series" and went in after the admission had cancelled the series' pending
    requests: a pending request beside a membership of a sister. The request now holds the series row (key share)
    first, so it waits for the admission and answers already_in_series."""
    owner, runner, guest = [await sign_in(busy_client, sandbox, n, nickname=True) for n in ("团长", "小跑", "小客")]
    cid, _ = await series_of(busy_client, owner, memberCap=2, entryMode="approval")
    asked = (await call(busy_client, "POST", f"/v1/communities/{cid}/join", runner, 202))["request"]
    await call(busy_client, "POST", f"/v1/communities/{cid}/join-requests/{asked['id']}/approve", owner)
    code = (await call(busy_client, "POST", f"/v1/communities/{cid}/invites", owner, 201, json={}))["code"]
    url = f"/v1/communities/{cid}/join"
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    holder = await asyncpg.connect(database_url)
    try:
        held = holder.transaction()
        await held.start()
        await holder.execute("LOCK TABLE community_audit_log IN SHARE MODE")  # the admission waits to log
        invited = asyncio.create_task(busy_client.post(url, json={"inviteCode": code}, headers=guest.headers))
        while await db.fetchval(waiting) < 1:
            await asyncio.sleep(0.02)
        request = asyncio.create_task(busy_client.post(url, json={"message": "hi"}, headers=guest.headers))
        async with asyncio.timeout(5):  # waits behind the admission now; went straight in before
            while not request.done() and await db.fetchval(waiting) < 2:
                await asyncio.sleep(0.02)
        await held.rollback()
        invited, request = await asyncio.gather(invited, request)
    finally:
        await holder.close()
    assert (invited.status_code, invited.json()["outcome"]) == (201, "joined")
    assert_problem(request, 409, "already_in_series")
    pending = "SELECT count(*) FROM join_requests WHERE user_id = $1 AND status = 'pending'"
    assert await db.fetchval(pending, guest.id) == 0


async def test_a_long_series_name_still_names_its_hundredth_sister(client, sandbox, database_url, settings, db):
    """Found by review: a series name may have 36 characters and a community's name 40, so `<name> <n>群` fit up to
    sister 99; opening sister 100 broke the community's check (a 500), and so did every join of the full series
    after it. The name is cut so that the number always fits."""
    owner = await sign_in(client, sandbox, "团长", nickname=True)
    name = "山野越野跑" * 7 + "团"  # 36 characters, the most a series name has
    brand = await call(client, "POST", "/v1/brands", owner, 201, json={"name": "山野跑团"})
    cid = (await call(client, "POST", "/v1/communities", owner, 201, json={"name": "跑团 1群", "memberCap": 2}))["id"]
    await call(client, "POST", f"/v1/brands/{brand['id']}/communities", owner, json={"communityId": cid})
    body = {"communityId": cid, "name": name}
    series_id = (await call(client, "POST", f"/v1/brands/{brand['id']}/series", owner, 201, json=body))["id"]
    # Each sister holds its owner and one newcomer: 100 newcomers fill sisters 1 to 100 (99 opened).
    for joiner in await create_users(database_url, settings, *(f"跑友{i}" for i in range(100))):
        await call(client, "POST", f"/v1/communities/{cid}/join", joiner, 201)
    sisters = (await call(client, "GET", f"/v1/series/{series_id}", owner))["sisters"]
    assert [s["number"] for s in sisters] == list(range(1, 101))
    assert sisters[98]["name"] == f"{name} 99群"
    assert sisters[99]["name"] == f"{name[:-1]} 100群" and len(sisters[99]["name"]) == 40


async def test_a_share_of_a_full_sister_invites_strangers_in_rather_than_saying_full(client, sandbox):
    """A series always has room (a full sister sends the newcomer on, docs/brands.md), and its join admits them:
    the public preview of a post shared from a full sister answered `full`, telling a stranger not to try, while
    the join it should lead to admitted them to another sister. A full community outside a series is still full."""
    owner, runner, stranger = [await sign_in(client, sandbox, n, nickname=True) for n in ("团长", "小跑", "小陌")]
    cid, _ = await series_of(client, owner, memberCap=2)
    await call(client, "POST", f"/v1/communities/{cid}/join", runner, 201)  # 1群 is full now
    post = await call(client, "POST", f"/v1/communities/{cid}/posts", owner, 201, json={"text": "周六早上一起跑步"})
    code = (await call(client, "POST", f"/v1/posts/{post['id']}/share", runner, 201, json={"target": "group"}))["code"]

    preview = await call(client, "GET", f"/v1/shares/{code}", stranger)
    assert (preview["community"]["memberCount"], preview["community"]["memberCap"]) == (2, 2)
    assert preview["join"] == {"outcome": "join", "shareCode": code}
    joined = await call(client, "POST", f"/v1/communities/{cid}/join", stranger, 201, json={"shareCode": code})
    assert joined["outcome"] == "joined" and joined["communityId"] != cid

    lone = (await call(client, "POST", "/v1/communities", owner, 201, json={"name": "独立群", "memberCap": 1}))["id"]
    post = await call(client, "POST", f"/v1/communities/{lone}/posts", owner, 201, json={"text": "周日早上一起爬山"})
    code = (await call(client, "POST", f"/v1/posts/{post['id']}/share", owner, 201, json={"target": "group"}))["code"]
    assert (await call(client, "GET", f"/v1/shares/{code}", stranger))["join"]["outcome"] == "full"


async def test_an_approval_that_admits_to_a_sister_tells_the_applicant_where_they_are(client, sandbox):
    """Approving a request to a full sister admits the applicant to another (docs/brands.md); the join_approved notice
    named the community asked, where they are not a member, so opening it led nowhere. It names the sister now."""
    owner, runner, applicant = [await sign_in(client, sandbox, n, nickname=True) for n in ("团长", "小跑", "小申")]
    cid, series_id = await series_of(client, owner, memberCap=2, entryMode="approval")
    asked = (await call(client, "POST", f"/v1/communities/{cid}/join", runner, 202))["request"]
    await call(client, "POST", f"/v1/communities/{cid}/join-requests/{asked['id']}/approve", owner)  # 1群 is full
    request = (await call(client, "POST", f"/v1/communities/{cid}/join", applicant, 202))["request"]
    await call(client, "POST", f"/v1/communities/{cid}/join-requests/{request['id']}/approve", owner)
    sister = (await call(client, "GET", f"/v1/series/{series_id}", applicant))["myCommunityId"]
    assert sister is not None and sister != cid

    (approved,) = await notices(client, applicant.headers, "join_approved")
    assert (approved["subjectType"], approved["subjectId"], approved["communityId"]) == ("community", sister, sister)
    assert (await call(client, "GET", f"/v1/communities/{sister}", applicant))["membership"]["status"] == "active"
    (approved,) = await notices(client, runner.headers, "join_approved")  # admitted where they asked
    assert (approved["subjectId"], approved["communityId"]) == (cid, cid)
