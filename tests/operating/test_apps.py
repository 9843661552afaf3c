"""Community apps: the owner's switch, `app_disabled` on the app's routes and jobs, the operator's prices,
a paid app switched on by a sandbox payment, renewed, reminded about and expiring, and a one-off purchase."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.core import money as checkout
from service.core.apps import require_app
from tests.operating.conftest import OPERATOR_KEY
from tests.operating.test_meetups import at, create_meetup
from tests.world import assert_problem, notices

APPS = ["robots", "polls", "collections", "activities", "meetups", "warmup"]
OPERATOR = {"X-Operator-Key": OPERATOR_KEY}


@pytest.fixture
async def people(world):
    return [await world.member(name) for name in ("alice", "bob", "carol", "dave")]


async def apps_of(world, member, cid: str, **params) -> dict[str, str]:
    response = await world.api.get(f"/v1/communities/{cid}/apps", params=params, headers=member.headers)
    assert response.status_code == 200, response.text
    return {item["app"]: item["state"] for item in response.json()["items"]}


async def test_the_owner_switches_apps_and_disabled_apps_answer_app_disabled(world, people):
    alice, bob, carol, dave = people
    cid = await world.community(alice, bob, carol)
    promoted = await world.api.put(
        f"/v1/communities/{cid}/members/{carol.id}", json={"role": "admin"}, headers=alice.headers
    )
    assert promoted.status_code == 200, promoted.text
    catalogue = (await world.api.get("/v1/apps", headers=dave.headers)).json()["items"]
    assert [(a["app"], a["billing"], a["priceFen"]) for a in catalogue] == [(app, "free", None) for app in APPS]
    assert await apps_of(world, bob, cid) == dict.fromkeys(APPS, "enabled")  # free apps are on by default

    meetup = await create_meetup(world, alice, cid, startsAt=at(days=2))
    await world.api.post(f"/v1/meetups/{meetup['id']}/signups", headers=bob.headers)
    for who, status, code in ((bob, 403, "forbidden"), (carol, 403, "forbidden"), (dave, 403, "not_member")):
        assert_problem(await world.api.delete(f"/v1/communities/{cid}/apps/meetups", headers=who.headers), status, code)
        assert_problem(await world.api.put(f"/v1/communities/{cid}/apps/meetups", headers=who.headers), status, code)
    assert_problem(await world.api.get(f"/v1/communities/{cid}/apps", headers=dave.headers), 403, "not_member")
    assert_problem(await world.api.get(f"/v1/communities/{cid}/apps?all=true", headers=bob.headers), 403, "forbidden")
    assert_problem(
        await world.api.put(f"/v1/communities/{cid}/apps/chess", headers=alice.headers), 400, "validation_failed"
    )

    for app in ("meetups", "activities", "warmup"):
        assert (await world.api.delete(f"/v1/communities/{cid}/apps/{app}", headers=alice.headers)).status_code == 204
    assert set(await apps_of(world, bob, cid)) == {"robots", "polls", "collections"}
    everything = await apps_of(world, carol, cid, all="true")
    assert everything["meetups"] == everything["activities"] == everything["warmup"] == "disabled"

    blocked = [
        ("GET", f"/v1/communities/{cid}/meetups", None),
        (
            "POST",
            f"/v1/communities/{cid}/meetups",
            {"title": "t", "mode": "online", "startsAt": at(days=1), "capacity": 2},
        ),
        ("GET", f"/v1/meetups/{meetup['id']}", None),
        ("POST", f"/v1/meetups/{meetup['id']}/signups", None),
        ("GET", f"/v1/communities/{cid}/activities", None),
        (
            "POST",
            f"/v1/communities/{cid}/activities",
            {"title": "t", "prompt": "p", "recurrence": "daily", "windowStart": "07:00", "windowEnd": "08:00"},
        ),
        ("GET", f"/v1/communities/{cid}/warmup", None),
        ("POST", f"/v1/communities/{cid}/warmup/topics", {"text": "话题"}),
    ]
    for method, url, body in blocked:
        response = await world.api.request(method, url, json=body, headers=alice.headers)
        assert "switched" in assert_problem(response, 409, "app_disabled")["detail"], url
    # Money can always go back: leaving a meetup and cancelling it work with the app off.
    left = await world.api.delete(f"/v1/meetups/{meetup['id']}/signups/me", headers=bob.headers)
    assert left.status_code == 200 and left.json()["status"] == "cancelled"

    assert (await world.api.put(f"/v1/communities/{cid}/apps/meetups", headers=alice.headers)).status_code == 200
    assert (await world.api.get(f"/v1/communities/{cid}/meetups", headers=bob.headers)).status_code == 200
    assert "meetups" in await apps_of(world, bob, cid)


async def test_a_paid_app_is_enabled_by_a_sandbox_payment_renewed_reminded_and_expires(world, people):
    alice, bob, *_ = people
    cid = await world.community(alice, bob)
    price = {"billing": "monthly", "priceFen": 1990}
    assert_problem(await world.api.put("/v1/admin/apps/meetups/price", json=price), 403, "operator_only")
    wrong = {"X-Operator-Key": "x" * 40}
    assert_problem(await world.api.put("/v1/admin/apps/meetups/price", json=price, headers=wrong), 403, "operator_only")
    priced = await world.api.put("/v1/admin/apps/meetups/price", json=price, headers=OPERATOR)
    assert priced.status_code == 200 and priced.json()["priceFen"] == 1990
    listed = {a["app"]: a for a in (await world.api.get("/v1/apps", headers=bob.headers)).json()["items"]}
    assert listed["meetups"]["billing"] == "monthly" and listed["meetups"]["priceFen"] == 1990

    # Priced and unpaid: off, gone from the list, its routes refuse.
    assert "meetups" not in await apps_of(world, bob, cid)
    assert (await apps_of(world, alice, cid, all="true"))["meetups"] == "payment_required"
    refused = await world.api.get(f"/v1/communities/{cid}/meetups", headers=bob.headers)
    assert "paid" in assert_problem(refused, 409, "app_disabled")["detail"]

    enable = await world.api.put(f"/v1/communities/{cid}/apps/meetups", headers=alice.headers)
    assert enable.status_code == 202, enable.text
    order = enable.json()["order"]
    assert (
        order["purpose"] == "app" and order["amountFen"] == 1990 and enable.json()["app"]["state"] == "payment_required"
    )
    again = await world.api.put(f"/v1/communities/{cid}/apps/meetups", headers=alice.headers)
    assert again.status_code == 202 and again.json()["order"]["id"] == order["id"]
    assert_problem(
        await world.api.post(f"/v1/orders/{order['id']}/refund", json={}, headers=bob.headers), 404, "not_found"
    )

    await world.pay_order(order)
    state = {
        a["app"]: a for a in (await world.api.get(f"/v1/communities/{cid}/apps", headers=bob.headers)).json()["items"]
    }
    paid_until = datetime.fromisoformat(state["meetups"]["paidUntil"])
    assert timedelta(days=27) < paid_until - datetime.now(UTC) <= timedelta(days=31)
    assert (await world.api.get(f"/v1/communities/{cid}/meetups", headers=bob.headers)).status_code == 200
    # Payers do not refund an app purchase themselves.
    assert_problem(
        await world.api.post(f"/v1/orders/{order['id']}/refund", json={}, headers=alice.headers),
        403,
        "refund_not_allowed",
    )

    renewal = await world.api.post(f"/v1/communities/{cid}/apps/meetups/renewal", headers=alice.headers)
    assert renewal.status_code == 202 and renewal.json()["order"]["id"] != order["id"]
    await world.pay_order(renewal.json()["order"])
    renewed = await world.pool.fetchval("SELECT paid_until FROM community_apps WHERE app = 'meetups'")
    assert timedelta(days=58) < renewed - datetime.now(UTC) <= timedelta(days=62)

    # A reminder before the end, once per paid period.
    await world.pool.execute("UPDATE community_apps SET paid_until = now() + interval '1 day' WHERE app = 'meetups'")
    await world.consent(alice, world.settings.apps_expiry_template_id, count=3)
    await world.run_job("apps.expiry_reminders")
    await world.run_job("apps.expiry_reminders")
    (message,) = await world.subscribe_messages(alice)
    assert message["message"]["template_id"] == world.settings.apps_expiry_template_id
    assert message["message"]["data"]["thing1"]["value"] == "线上线下活动"
    assert await world.pool.fetchval("SELECT reminder_result FROM community_apps WHERE app = 'meetups'") == "sent"
    told = await notices(world.api, alice.headers, "app_expiring")  # and in the inbox, once
    assert [(i["subjectType"], i["data"]["app"], i["data"]["appName"]) for i in told] == [
        ("community", "meetups", "线上线下活动")
    ]

    # The period ends: the app is off again until paid.
    await world.pool.execute("UPDATE community_apps SET paid_until = now() - interval '1 second' WHERE app = 'meetups'")
    assert "meetups" not in await apps_of(world, bob, cid)
    assert (await apps_of(world, alice, cid, all="true"))["meetups"] == "expired"
    expired = await world.api.post(
        f"/v1/communities/{cid}/meetups",
        json={"title": "t", "mode": "online", "startsAt": at(days=1), "capacity": 2},
        headers=alice.headers,
    )
    assert_problem(expired, 409, "app_disabled")
    assert (await world.api.put(f"/v1/communities/{cid}/apps/meetups", headers=alice.headers)).status_code == 202

    # Free again: on wherever the owner's switch is on.
    assert (await world.api.delete("/v1/admin/apps/meetups/price", headers=OPERATOR)).status_code == 204
    assert (await world.api.get(f"/v1/communities/{cid}/meetups", headers=bob.headers)).status_code == 200
    async with world.pool.acquire() as conn:
        assert await checkout.ledger_violations(conn) == []


async def test_a_one_off_app_is_bought_for_good(world, people):
    alice, bob, *_ = people
    cid = await world.community(alice, bob)
    priced = await world.api.put(
        "/v1/admin/apps/warmup/price", json={"billing": "one_off", "priceFen": 5000}, headers=OPERATOR
    )
    assert priced.status_code == 200
    order = (await world.api.put(f"/v1/communities/{cid}/apps/warmup", headers=alice.headers)).json()["order"]
    await world.pay_order(order)
    (app,) = [
        a
        for a in (await world.api.get(f"/v1/communities/{cid}/apps", headers=bob.headers)).json()["items"]
        if a["app"] == "warmup"
    ]
    assert app["purchased"] is True and app["paidUntil"] is None and app["state"] == "enabled"
    assert_problem(
        await world.api.post(f"/v1/communities/{cid}/apps/warmup/renewal", headers=alice.headers),
        409,
        "app_not_renewable",
    )
    # Switching it off and on again costs nothing.
    assert (await world.api.delete(f"/v1/communities/{cid}/apps/warmup", headers=alice.headers)).status_code == 204
    assert (await world.api.put(f"/v1/communities/{cid}/apps/warmup", headers=alice.headers)).status_code == 200
    assert_problem(
        await world.api.post(f"/v1/communities/{cid}/apps/polls/renewal", headers=alice.headers),
        409,
        "app_not_renewable",
    )


async def test_an_app_bought_for_good_is_not_sold_a_monthly_renewal_after_a_reprice(world, people):
    """An app bought one-off stays on for good; once the operator reprices it monthly, `renewal` answers
    `app_not_renewable` and places no order: a month more would charge the owner for nothing."""
    alice, *_ = people
    cid = await world.community(alice)
    one_off = {"billing": "one_off", "priceFen": 5000}
    assert (await world.api.put("/v1/admin/apps/warmup/price", json=one_off, headers=OPERATOR)).status_code == 200
    bought = await world.api.put(f"/v1/communities/{cid}/apps/warmup", headers=alice.headers)
    assert bought.status_code == 202, bought.text
    await world.pay_order(bought.json()["order"])
    monthly = {"billing": "monthly", "priceFen": 1990}
    assert (await world.api.put("/v1/admin/apps/warmup/price", json=monthly, headers=OPERATOR)).status_code == 200
    orders = await world.pool.fetchval("SELECT count(*) FROM orders")
    renewal = await world.api.post(f"/v1/communities/{cid}/apps/warmup/renewal", headers=alice.headers)
    assert_problem(renewal, 409, "app_not_renewable")
    assert await world.pool.fetchval("SELECT count(*) FROM orders") == orders
    assert (await apps_of(world, alice, cid))["warmup"] == "enabled"


async def test_jobs_skip_communities_where_the_app_is_off(world, people):
    alice, *_ = people
    cid = await world.community(alice)
    await world.api.put(
        f"/v1/communities/{cid}/warmup",
        json={"quietMinutes": 10, "activeFrom": "00:00", "activeUntil": "00:00"},
        headers=alice.headers,
    )
    await world.api.post(f"/v1/communities/{cid}/warmup/topics", json={"text": "话题"}, headers=alice.headers)
    await world.pool.execute("UPDATE communities SET created_at = now() - interval '1 day'")
    assert (await world.api.delete(f"/v1/communities/{cid}/apps/warmup", headers=alice.headers)).status_code == 204
    await world.run_job("robots.warmup")
    assert await world.pool.fetchval("SELECT count(*) FROM posts WHERE robot = 'warmup'") == 0
    assert (await world.api.put(f"/v1/communities/{cid}/apps/warmup", headers=alice.headers)).status_code == 200
    await world.run_job("robots.warmup")
    assert await world.pool.fetchval("SELECT count(*) FROM posts WHERE robot = 'warmup'") == 1
    async with world.pool.acquire() as conn:
        with pytest.raises(ValueError):
            await require_app(conn, int(cid), "chess")


async def test_polls_collections_and_robots_switched_off_refuse_their_routes_and_the_robot_stays_silent(world, people):
    alice, bob, *_ = people
    cid = await world.community(alice, bob)
    now = datetime.now(UTC)
    poll_body = {
        "title": "新款冷萃咖啡",
        "proposalsCloseAt": (now + timedelta(hours=1)).isoformat(),
        "votingCloseAt": (now + timedelta(hours=2)).isoformat(),
    }
    poll = await world.api.post(f"/v1/communities/{cid}/polls", json=poll_body, headers=alice.headers)
    assert poll.status_code == 201, poll.text
    pid = poll.json()["id"]
    rule = await world.api.post(
        f"/v1/communities/{cid}/robot-rules", json={"keyword": "价格", "reply": "价格请看群公告"}, headers=alice.headers
    )
    assert rule.status_code == 201, rule.text
    share = {"title": "聚餐", "amountFen": 5000}
    collection = await world.api.post(f"/v1/communities/{cid}/collections", json=share, headers=alice.headers)
    assert collection.status_code == 201, collection.text
    collection_id = collection.json()["id"]

    for app in ("polls", "collections", "robots"):
        assert (await world.api.delete(f"/v1/communities/{cid}/apps/{app}", headers=alice.headers)).status_code == 204
    assert set(await apps_of(world, bob, cid)) == {"activities", "meetups", "warmup"}

    blocked = [
        (alice, "POST", f"/v1/communities/{cid}/polls", poll_body),
        (bob, "GET", f"/v1/communities/{cid}/polls", None),
        (bob, "GET", f"/v1/polls/{pid}", None),
        (bob, "POST", f"/v1/polls/{pid}/proposals", {"name": "星空"}),
        (bob, "GET", f"/v1/polls/{pid}/proposals", None),
        (alice, "POST", f"/v1/polls/{pid}/advance", None),
        (alice, "POST", f"/v1/polls/{pid}/close", None),
        (alice, "POST", f"/v1/communities/{cid}/collections", share),
        (bob, "GET", f"/v1/communities/{cid}/collections", None),
        (bob, "POST", f"/v1/collections/{collection_id}/pay", None),
        (alice, "GET", f"/v1/communities/{cid}/robot-rules", None),
        (alice, "POST", f"/v1/communities/{cid}/robot-rules", {"keyword": "x", "reply": "y"}),
        (alice, "PUT", f"/v1/robot-rules/{rule.json()['id']}", {"enabled": False}),
    ]
    for who, method, url, body in blocked:
        response = await world.api.request(method, url, json=body, headers=who.headers)
        assert "switched" in assert_problem(response, 409, "app_disabled")["detail"], (method, url)
    # A stranger still learns nothing about the community's apps.
    dave = people[3]
    assert_problem(await world.api.get(f"/v1/polls/{pid}", headers=dave.headers), 403, "not_member")

    # What members paid for stays reachable: the collection is readable and can be cancelled (refunds).
    assert (await world.api.get(f"/v1/collections/{collection_id}", headers=bob.headers)).status_code == 200
    cancelled = await world.api.post(f"/v1/collections/{collection_id}/cancel", headers=alice.headers)
    assert cancelled.status_code == 200, cancelled.text

    # The keyword robot no longer answers in the feed.
    post = await world.api.post(f"/v1/communities/{cid}/posts", json={"text": "请问价格多少"}, headers=bob.headers)
    assert post.status_code == 201, post.text
    robot = "SELECT count(*) FROM comments WHERE post_id = $1 AND robot = 'keyword'"
    assert await world.pool.fetchval(robot, int(post.json()["id"])) == 0

    assert (await world.api.put(f"/v1/communities/{cid}/apps/robots", headers=alice.headers)).status_code == 200
    again = await world.api.post(f"/v1/communities/{cid}/posts", json={"text": "价格呢"}, headers=bob.headers)
    assert await world.pool.fetchval(robot, int(again.json()["id"])) == 1


async def test_an_open_order_buys_what_the_owners_last_answer_quoted_after_a_reprice_at_the_same_amount(world, people):
    """The operator changes an app from one-off to monthly at the same price while the owner's order is still open:
    asking again answers the same order (same amount) with the app now monthly, so paying it buys a month, not the
    app for good (and the other way round); what an order buys is what the last answer it came with said."""
    alice, *_ = people
    cid = await world.community(alice)
    one_off = {"billing": "one_off", "priceFen": 1990}
    assert (await world.api.put("/v1/admin/apps/warmup/price", json=one_off, headers=OPERATOR)).status_code == 200
    first = await world.api.put(f"/v1/communities/{cid}/apps/warmup", headers=alice.headers)
    assert first.status_code == 202 and first.json()["app"]["billing"] == "one_off"
    monthly = {"billing": "monthly", "priceFen": 1990}
    assert (await world.api.put("/v1/admin/apps/warmup/price", json=monthly, headers=OPERATOR)).status_code == 200
    again = await world.api.put(f"/v1/communities/{cid}/apps/warmup", headers=alice.headers)
    assert again.status_code == 202 and again.json()["app"]["billing"] == "monthly"
    assert again.json()["order"]["id"] == first.json()["order"]["id"]
    await world.pay_order(again.json()["order"])
    (app,) = [a for a in (await world.api.get(f"/v1/communities/{cid}/apps", headers=alice.headers)).json()["items"]
              if a["app"] == "warmup"]  # fmt: skip
    assert app["purchased"] is False and app["state"] == "enabled"
    assert timedelta(days=27) < datetime.fromisoformat(app["paidUntil"]) - datetime.now(UTC) <= timedelta(days=31)
