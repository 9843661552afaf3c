"""Paid entry over real HTTP: joining a paid community, paying through the Pay sandbox, being admitted (or
refunded when the payment cannot be honoured), refunds inside and outside the window, the admins' side."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import datetime, timedelta

from service.jobs.worker import Worker
from service.wechat import pay as wxpay
from tests.checkout.test_checkout import resource_notification


async def paid_community(world, owner: dict, price_fen: int = 990, **fields) -> dict:
    body = {"name": f"paid {uuid.uuid4().hex[:6]}", "entryMode": "paid", "priceFen": price_fen, **fields}
    response = await world.api.post("/v1/communities", json=body, headers=owner)
    assert response.status_code == 201, response.text
    return response.json()


async def join(world, auth: dict, community_id: str, expect: int = 201, **body):
    response = await world.api.post(f"/v1/communities/{community_id}/join", json=body, headers=auth)
    assert response.status_code == expect, response.text
    return response.json()


async def membership(world, auth: dict, community_id: str) -> dict | None:
    response = await world.api.get(f"/v1/communities/{community_id}", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["membership"]


async def count(world, sql: str, *args) -> int:
    return await world.pool.fetchval(sql, *args)


async def audit(world, owner: dict, community_id: str, action: str) -> list[dict]:
    response = await world.api.get(f"/v1/communities/{community_id}/audit-log?action={action}", headers=owner)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def run_refund_jobs(world, concurrency: int = 4) -> None:
    """Submit every queued refund now (other jobs stay scheduled)."""
    worker = Worker(world.worker.context, world.worker.jobs, concurrency=concurrency, lease=5, poll_interval=0.05)
    for _ in range(500):
        await world.pool.execute("UPDATE jobs SET run_at = now() WHERE status = 'queued' AND kind = 'checkout.refund'")
        if await worker.run_once() == 0:
            return
    raise AssertionError("refund jobs did not finish")


async def test_pay_and_be_admitted_with_the_welcome_ceremony(world):
    owner_id, owner = await world.user()
    member_id, member = await world.user()
    welcome = "欢迎 {nickname} 加入{community}"
    community = await paid_community(world, owner, welcomeTemplate=welcome, introductionRequired=True)
    cid = community["id"]
    assert community["refundWindowHours"] == 72 and community["collectionsBy"] == "members"

    first = await join(world, member, cid)
    order = first["order"]
    assert first["outcome"] == "payment" and first["membership"] is None
    assert (order["purpose"], order["subjectId"], order["amountFen"], order["status"]) == (
        "community_entry",
        cid,
        990,
        "created",
    )
    assert order["payment"]["signType"] == "RSA" and order["payment"]["package"].startswith("prepay_id=")
    again = await join(world, member, cid, expect=200)
    assert again["order"]["id"] == order["id"]
    assert await membership(world, member, cid) is None  # nothing changes before the payment

    paid = await world.pay_order(order)
    assert paid["deliveredStatus"] == 204
    got = await world.get_order(order["id"], member)
    assert got["status"] == "paid" and got["refunds"] == []
    until = datetime.fromisoformat(got["refundableUntil"]) - datetime.fromisoformat(got["paidAt"])
    assert until == timedelta(hours=72)

    mine = await membership(world, member, cid)
    assert mine["status"] == "active" and mine["role"] == "member" and not mine["introduced"]
    row = await world.pool.fetchrow(
        "SELECT m.via, p.text, p.robot FROM memberships m JOIN posts p ON p.id = m.welcome_post_id "
        "WHERE m.community_id = $1 AND m.user_id = $2",
        int(cid),
        member_id,
    )
    assert row["via"] == "paid" and row["robot"] == "welcome"
    assert row["text"] == f"欢迎 新朋友 加入{community['name']}"
    joined = await audit(world, owner, cid, "member.joined")
    assert len(joined) == 1 and joined[0]["actorId"] is None and joined[0]["subjectId"] == str(member_id)
    assert joined[0]["details"]["via"] == "paid" and joined[0]["details"]["orderId"] == order["id"]
    # The ceremony's second half: the newcomer introduces themselves.
    text = {"text": "大家好，我是新来的"}
    intro = await world.api.post(f"/v1/communities/{cid}/introduction", json=text, headers=member)
    assert intro.status_code == 201, intro.text

    assert (await join(world, member, cid, expect=200))["outcome"] == "already_member"
    assert await count(world, "SELECT member_count FROM communities WHERE id = $1", int(cid)) == 2
    assert await count(world, "SELECT count(*) FROM ledger_entries WHERE kind = 'payment'") == 1
    await world.run_due_jobs()  # reconcile and expire find nothing to do
    assert await world.ledger_violations() == []
    assert owner_id != member_id


async def test_duplicated_and_reordered_notifications_admit_once(world):
    _, owner = await world.user()
    community = await paid_community(world, owner)
    cid = community["id"]
    payers = []
    for _ in range(2):
        _, auth = await world.user()
        order = (await join(world, auth, cid))["order"]
        paid = await world.pay_order(order, drop=True)
        payers.append((auth, order, paid["notificationId"]))
    replays = [n for _, _, n in payers for _ in range(10)]
    random.shuffle(replays)
    statuses = await asyncio.gather(
        *(world.control.post(f"/sandbox/pay/notifications/{n}/replay", json={}) for n in replays)
    )
    assert {s.json()["deliveredStatus"] for s in statuses} == {204}
    for auth, order, _ in payers:
        assert (await world.get_order(order["id"], auth))["status"] == "paid"
        assert (await membership(world, auth, cid))["status"] == "active"
    assert await count(world, "SELECT member_count FROM communities WHERE id = $1", int(cid)) == 3
    assert await count(world, "SELECT count(*) FROM posts WHERE kind = 'welcome'") == 2
    assert len(await audit(world, owner, cid, "member.joined")) == 2
    assert await count(world, "SELECT count(*) FROM ledger_entries") == 2
    assert await world.ledger_violations() == []


async def test_forged_and_mismatching_notifications_for_an_entry_change_nothing(world, sandbox_keys):
    _, owner = await world.user()
    _, member = await world.user()
    cid = (await paid_community(world, owner, price_fen=1500))["id"]
    order = (await join(world, member, cid))["order"]
    paid = await world.pay_order(order, drop=True)
    genuine = world.sandbox.notifications[paid["notificationId"]]
    transaction = world.sandbox.transaction(world.sandbox.orders[order["outTradeNo"]])
    platform, serial = sandbox_keys.platform_key, sandbox_keys.public_key_id

    def signed(body: bytes, key=platform, key_serial=serial, timestamp=None) -> dict:
        return {**wxpay.signed_headers(key, key_serial, body, timestamp), "Content-Type": "application/json"}

    cheap = resource_notification(world, sandbox_keys, {**transaction, "amount": {**transaction["amount"], "total": 1}})
    cases = [
        (genuine.body, signed(genuine.body, key=wxpay.new_rsa_key()), 401, "pay_signature_invalid"),
        (genuine.body, signed(genuine.body, key_serial="PUB_KEY_ID_0000OLD"), 401, "pay_serial_unknown"),
        (genuine.body, signed(genuine.body, timestamp=int(time.time()) - 301), 401, "pay_notification_stale"),
        (cheap, signed(cheap), 409, "pay_notification_mismatch"),
    ]
    for body, headers, status, code in cases:
        response = await world.api.post("/v1/pay/notify", content=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code)
    assert (await world.get_order(order["id"], member))["status"] == "created"
    assert await membership(world, member, cid) is None
    assert await count(world, "SELECT count(*) FROM ledger_entries") == 0
    replay = await world.control.post(f"/sandbox/pay/notifications/{genuine.id}/replay", json={})
    assert replay.json()["deliveredStatus"] == 204
    assert (await membership(world, member, cid))["status"] == "active"


async def test_200_concurrent_paid_joins_for_100_seats(world):
    started = time.monotonic()
    _, owner = await world.user()
    cid = (await paid_community(world, owner, price_fen=500, memberCap=100))["id"]
    payers = [await world.user() for _ in range(200)]
    answers = await asyncio.gather(*(world.api.post(f"/v1/communities/{cid}/join", headers=a) for _, a in payers))
    assert {a.status_code for a in answers} == {201}, {a.text for a in answers if a.status_code != 201}
    orders = [a.json()["order"] for a in answers]
    assert len({o["id"] for o in orders}) == 200
    payer_of = {o["id"]: auth for (_, auth), o in zip(payers, orders, strict=True)}
    # The cap is enforced when the payments arrive, in whatever order WeChat sends them.
    random.shuffle(orders)
    paid = await asyncio.gather(*(world.pay_order(order) for order in orders))
    assert {p["deliveredStatus"] for p in paid} == {204}
    assert await count(world, "SELECT member_count FROM communities WHERE id = $1", int(cid)) == 100
    active = "SELECT count(*) FROM memberships WHERE community_id = $1 AND status = 'active'"
    assert await count(world, active, int(cid)) == 100  # the owner and 99 payers

    await run_refund_jobs(world, concurrency=16)
    rows = await world.pool.fetch("SELECT id, payer_user_id, status FROM orders")
    statuses = [r["status"] for r in rows]
    async with asyncio.timeout(20):
        while statuses.count("refunded") < 101:
            await asyncio.sleep(0.05)
            statuses = [r["status"] for r in await world.pool.fetch("SELECT status FROM orders")]
    assert statuses.count("paid") == 99 and statuses.count("refunded") == 101
    members = set(
        await world.pool.fetchval(
            "SELECT array_agg(user_id) FROM memberships WHERE community_id = $1 AND status = 'active'", int(cid)
        )
    )
    for row in rows:
        admitted = row["payer_user_id"] in members
        refunds = await world.pool.fetch(
            "SELECT initiated_by, reason, status FROM refunds WHERE order_id = $1", row["id"]
        )
        if admitted:
            assert refunds == []
        else:
            assert [(r["initiated_by"], r["status"]) for r in refunds] == [("system", "succeeded")]
            assert refunds[0]["reason"].startswith("community_full")
    # A refused payer reads why on their order.
    refused = next(r for r in rows if r["payer_user_id"] not in members)
    seen = await world.get_order(str(refused["id"]), payer_of[str(refused["id"])])
    assert seen["status"] == "refunded" and seen["refunds"][0]["reason"].startswith("community_full")
    assert len(world.sandbox.refunds) == 101
    assert await count(world, "SELECT count(*) FROM ledger_entries WHERE kind = 'payment'") == 200
    assert await count(world, "SELECT count(*) FROM ledger_entries WHERE kind = 'refund'") == 101
    assert await world.ledger_violations() == []
    assert time.monotonic() - started < 60


async def test_a_dropped_notification_is_recovered_by_reconciliation(world):
    _, owner = await world.user()
    _, member = await world.user()
    cid = (await paid_community(world, owner))["id"]
    order = (await join(world, member, cid))["order"]
    await world.pay_order(order, drop=True)
    assert await membership(world, member, cid) is None
    await world.run_due_jobs()  # checkout.reconcile asks WeChat and applies the payment
    assert (await world.get_order(order["id"], member))["status"] == "paid"
    assert (await membership(world, member, cid))["status"] == "active"
    assert await count(world, "SELECT count(*) FROM posts WHERE kind = 'welcome'") == 1


async def paid_member(world, owner: dict, cid: str) -> tuple[int, dict, dict]:
    """A member admitted by paying: (user id, headers, paid order)."""
    user_id, auth = await world.user()
    order = (await join(world, auth, cid))["order"]
    await world.pay_order(order)
    return user_id, auth, await world.get_order(order["id"], auth)


async def test_a_refund_inside_the_window_and_the_member_leaves(world):
    _, owner = await world.user()
    cid = (await paid_community(world, owner))["id"]
    member_id, member, order = await paid_member(world, owner, cid)
    asked = await world.api.post(f"/v1/orders/{order['id']}/refund", json={"reason": "不想参加了"}, headers=member)
    assert asked.status_code == 201, asked.text
    assert asked.json()["initiatedBy"] == "payer" and asked.json()["amountFen"] == 990
    assert (await membership(world, member, cid))["status"] == "left"  # at once, with the refund
    assert await count(world, "SELECT member_count FROM communities WHERE id = $1", int(cid)) == 1
    (refunded,) = await audit(world, owner, cid, "member.refunded")
    assert refunded["actorId"] == refunded["subjectId"] == str(member_id)
    assert refunded["details"]["left"] is True and refunded["details"]["initiatedBy"] == "payer"
    done = await world.wait_for(order["id"], member, "refunded")
    assert done["refunds"][0]["status"] == "succeeded" and done["refunds"][0]["reason"] == "不想参加了"
    assert done["refunds"][0]["notice"] == "不想参加了"  # what the member reads, in the app as in WeChat
    assert await world.payer_reads(order) == ["不想参加了"]  # WeChat's refund message: the payer's own words
    assert await world.ledger_violations() == []
    # Coming back means paying again: a new order.
    again = await join(world, member, cid)
    assert again["outcome"] == "payment" and again["order"]["id"] != order["id"]


async def _paid_twice_in_one_second(world, owner: dict, cid: str) -> tuple[dict, dict, dict]:
    """A member who paid, left, and paid again, both payments reported in the same second (WeChat's success_time
    has whole seconds): (their headers, the first order, the second order)."""
    _, member, first = await paid_member(world, owner, cid)
    left = await world.api.delete(f"/v1/communities/{cid}/members/me", headers=member)
    assert left.status_code == 204, left.text
    second = (await join(world, member, cid))["order"]
    await world.pay_order(second)
    assert (await membership(world, member, cid))["status"] == "active"
    await world.pool.execute(
        "UPDATE orders SET paid_at = date_trunc('second', now()) WHERE id = ANY($1::bigint[])",
        [int(first["id"]), int(second["id"])],
    )
    return member, first, second


async def test_two_entry_payments_in_one_second_keep_the_membership_on_the_later_order(world):
    """Two payments with the same paid_at are told apart by the order id: taking the first one back keeps the
    membership the second bought, taking the second back ends it (paid_at alone found neither later: the member
    was put out while the community kept their second payment)."""
    _, owner = await world.user()
    cid = (await paid_community(world, owner))["id"]
    member, first, second = await _paid_twice_in_one_second(world, owner, cid)
    asked = await world.api.post(f"/v1/orders/{first['id']}/refund", json={"reason": "重复付款"}, headers=member)
    assert asked.status_code == 201, asked.text
    assert (await membership(world, member, cid))["status"] == "active"
    assert (await world.get_order(second["id"], member))["status"] == "paid"

    other, first, second = await _paid_twice_in_one_second(world, owner, cid)
    asked = await world.api.post(f"/v1/orders/{second['id']}/refund", json={"reason": "不去了"}, headers=other)
    assert asked.status_code == 201, asked.text
    assert (await membership(world, other, cid))["status"] == "left"
    assert [item["details"]["left"] for item in await audit(world, owner, cid, "member.refunded")] == [True, False]
    await run_refund_jobs(world)
    assert await world.ledger_violations() == []


async def test_refunds_outside_the_window_and_the_window_setting(world):
    _, owner = await world.user()
    cid = (await paid_community(world, owner))["id"]
    early_id, early, early_order = await paid_member(world, owner, cid)
    late_id, late, late_order = await paid_member(world, owner, cid)
    await world.pool.execute(
        "UPDATE orders SET paid_at = now() - interval '73 hours' WHERE id = $1", int(late_order["id"])
    )
    closed = await world.api.post(f"/v1/orders/{late_order['id']}/refund", headers=late)
    assert (closed.status_code, closed.json()["code"]) == (409, "refund_window_closed")
    assert (await membership(world, late, cid))["status"] == "active"

    # The owner shortens the window to nothing: new payments are final, earlier ones keep their 72 hours.
    changed = await world.api.put(f"/v1/communities/{cid}", json={"refundWindowHours": 0}, headers=owner)
    assert changed.status_code == 200 and changed.json()["refundWindowHours"] == 0
    _, newcomer, new_order = await paid_member(world, owner, cid)
    assert new_order["refundableUntil"] is None
    refused = await world.api.post(f"/v1/orders/{new_order['id']}/refund", headers=newcomer)
    assert (refused.status_code, refused.json()["code"]) == (403, "refund_not_allowed")
    await world.pool.execute(
        "UPDATE orders SET paid_at = now() - interval '2 hours' WHERE id = $1", int(early_order["id"])
    )
    kept = await world.get_order(early_order["id"], early)
    assert datetime.fromisoformat(kept["refundableUntil"]) - datetime.fromisoformat(kept["paidAt"]) == timedelta(
        hours=72
    )
    asked = await world.api.post(f"/v1/orders/{early_order['id']}/refund", headers=early)
    assert asked.status_code == 201 and asked.json()["reason"] == "payer_request", asked.text
    assert (await membership(world, early, cid))["status"] == "left"
    # Asked without a reason: WeChat's refund message still says why, in Chinese (sent before the answer).
    assert await world.payer_reads(early_order) == ["已按你的申请退款，款项原路退回"]

    # Only the owner sets the window, within 0-720 hours.
    await world.pool.execute(
        "UPDATE memberships SET role = 'admin' WHERE community_id = $1 AND user_id = $2", int(cid), late_id
    )
    by_admin = await world.api.put(f"/v1/communities/{cid}", json={"refundWindowHours": 24}, headers=late)
    assert (by_admin.status_code, by_admin.json()["code"]) == (403, "forbidden")
    too_long = await world.api.put(f"/v1/communities/{cid}", json={"refundWindowHours": 721}, headers=owner)
    assert (too_long.status_code, too_long.json()["code"]) == (400, "validation_failed")
    assert early_id != late_id


async def test_the_owner_cannot_refund_their_way_out(world):
    _, owner = await world.user()
    cid = (await paid_community(world, owner))["id"]
    member_id, member, order = await paid_member(world, owner, cid)
    handed = await world.api.post(
        f"/v1/communities/{cid}/ownership-transfer", json={"userId": str(member_id)}, headers=owner
    )
    assert handed.status_code == 200, handed.text
    refused = await world.api.post(f"/v1/orders/{order['id']}/refund", headers=member)
    assert (refused.status_code, refused.json()["code"]) == (409, "owner_must_transfer")
    assert (await world.get_order(order["id"], member))["refunds"] == []
    assert (await membership(world, member, cid))["role"] == "owner"


async def test_admins_list_orders_refund_with_a_reason_and_see_earnings(world):
    _, owner = await world.user()
    admin_id, admin = await world.user()
    _, plain = await world.user()
    _, stranger = await world.user()
    community = (await world.api.post("/v1/communities", json={"name": "later paid"}, headers=owner)).json()
    cid = community["id"]
    for auth in (admin, plain):
        await join(world, auth, cid)
    promoted = await world.api.put(f"/v1/communities/{cid}/members/{admin_id}", json={"role": "admin"}, headers=owner)
    assert promoted.status_code == 200
    paid = await world.api.put(f"/v1/communities/{cid}", json={"entryMode": "paid", "priceFen": 990}, headers=owner)
    assert paid.status_code == 200
    a_id, a, a_order = await paid_member(world, owner, cid)
    b_id, b, b_order = await paid_member(world, owner, cid)
    _, c = await world.user()
    unpaid = (await join(world, c, cid))["order"]
    await world.pool.execute(
        "UPDATE orders SET paid_at = now() - interval '80 hours' WHERE id = $1", int(a_order["id"])
    )

    page = await world.api.get(f"/v1/communities/{cid}/orders?limit=2", headers=admin)
    assert page.status_code == 200, page.text
    first = page.json()
    assert [o["id"] for o in first["items"]] == [unpaid["id"], b_order["id"]]
    assert first["items"][1]["payerId"] == str(b_id) and "payment" not in first["items"][0]
    rest = await world.api.get(f"/v1/communities/{cid}/orders?limit=2&cursor={first['nextCursor']}", headers=admin)
    assert [o["id"] for o in rest.json()["items"]] == [a_order["id"]] and rest.json()["nextCursor"] is None
    only_paid = await world.api.get(f"/v1/communities/{cid}/orders?status=paid", headers=owner)
    assert {o["id"] for o in only_paid.json()["items"]} == {a_order["id"], b_order["id"]}

    earnings = (await world.api.get(f"/v1/communities/{cid}/earnings", headers=owner)).json()
    assert earnings == {
        "communityId": cid,
        "refundWindowHours": 72,
        "paidOrders": 2,
        "paidFen": 1980,
        "refundedFen": 0,
        "retainedFen": 1980,
        "refundingFen": 0,
        "inRefundWindowFen": 990,  # b's payment may still be taken back
        "payingOutFen": 0,
        "paidOutFen": 0,
        "withdrawableFen": 990,
    }

    url = f"/v1/communities/{cid}/orders/{a_order['id']}/refund"
    partial = await world.api.post(
        url, json={"reason": "补差价", "amountFen": 300}, headers={**admin, "Idempotency-Key": "part-1"}
    )
    assert partial.status_code == 201, partial.text
    assert (partial.json()["initiatedBy"], partial.json()["amountFen"]) == ("admin", 300)
    replayed = await world.api.post(
        url, json={"reason": "补差价", "amountFen": 300}, headers={**admin, "Idempotency-Key": "part-1"}
    )
    assert replayed.json()["id"] == partial.json()["id"]
    assert (await membership(world, a, cid))["status"] == "active"  # a partial refund keeps the member
    pending = (await world.api.get(f"/v1/communities/{cid}/earnings", headers=admin)).json()
    assert (pending["refundingFen"], pending["withdrawableFen"]) == (300, 0)  # a's waits for its refund
    # More than the 690 left: refused by name (it answered order_not_paid, "nothing left"), nothing promised.
    over = await world.api.post(url, json={"reason": "多退了", "amountFen": 691}, headers=admin)
    assert (over.status_code, over.json()["code"]) == (409, "refund_exceeds_remaining")
    assert "690" in over.json()["detail"] and over.json()["userMessage"] == "退款金额超过了订单剩余可退金额。"
    full = await world.api.post(url, json={"reason": "活动取消"}, headers=admin)
    assert full.status_code == 201 and full.json()["amountFen"] == 690
    assert (await membership(world, a, cid))["status"] == "left"
    nothing_left = await world.api.post(url, json={"reason": "again"}, headers=admin)
    assert (nothing_left.status_code, nothing_left.json()["code"]) == (409, "order_not_paid")
    await run_refund_jobs(world)
    seen = await world.wait_for(a_order["id"], a, "refunded")
    assert [r["reason"] for r in seen["refunds"]] == ["补差价", "活动取消"]
    assert sorted(await world.payer_reads(a_order)) == sorted(["补差价", "活动取消"])  # the admin's words as typed
    assert {r["initiatedBy"] for r in seen["refunds"]} == {"admin"}
    refunded = await audit(world, owner, cid, "member.refunded")
    assert [(e["actorId"], e["details"]["left"]) for e in refunded] == [(str(admin_id), True), (str(admin_id), False)]
    after = (await world.api.get(f"/v1/communities/{cid}/earnings", headers=owner)).json()
    assert (after["refundedFen"], after["retainedFen"], after["withdrawableFen"]) == (990, 990, 0)
    assert await world.ledger_violations() == []

    # Who may not: plain members, strangers, admins of another community, other communities' orders.
    _, other_owner = await world.user()
    other = (await paid_community(world, other_owner))["id"]
    cases = [
        ("GET", f"/v1/communities/{cid}/orders", plain, 403, "forbidden"),
        ("GET", f"/v1/communities/{cid}/orders", stranger, 403, "not_member"),
        ("GET", f"/v1/communities/{cid}/earnings", plain, 403, "forbidden"),
        ("GET", f"/v1/communities/{cid}/earnings", other_owner, 403, "not_member"),
        ("POST", f"/v1/communities/{cid}/orders/{b_order['id']}/refund", plain, 403, "forbidden"),
        ("POST", f"/v1/communities/{cid}/orders/{b_order['id']}/refund", other_owner, 403, "not_member"),
        ("POST", f"/v1/communities/{other}/orders/{b_order['id']}/refund", other_owner, 404, "not_found"),
        ("POST", f"/v1/communities/{cid}/orders/999999/refund", admin, 404, "not_found"),
        ("GET", "/v1/communities/999999/orders", admin, 404, "not_found"),
        ("GET", f"/v1/orders/{b_order['id']}", admin, 404, "not_found"),  # orders are their payer's
    ]
    for method, path, auth, status, code in cases:
        body = {"reason": "x"} if method == "POST" else None
        response = await world.api.request(method, path, json=body, headers=auth)
        assert (response.status_code, response.json()["code"]) == (status, code), (method, path)
    no_reason = await world.api.post(f"/v1/communities/{cid}/orders/{b_order['id']}/refund", json={}, headers=owner)
    assert (no_reason.status_code, no_reason.json()["code"]) == (400, "validation_failed")
    assert (await world.api.get(f"/v1/communities/{cid}/orders")).status_code == 401
    assert (await membership(world, b, cid))["status"] == "active" and b_id != a_id


async def test_an_admin_cannot_refund_their_own_order_the_owner_can(world):
    """The admins' refund route pays back out of the owner's income with no window: an admin, a brand's owner
    included (an admin in the brand's communities, the income is the community owner's), may not send themselves
    their own entry fee (they ask as any payer, inside the window); the owner, whose income it is, may."""
    boss_id, boss = await world.user()
    owner_id, owner = await world.user()
    brand = (await world.api.post("/v1/brands", json={"name": "退款品牌"}, headers=boss)).json()
    cid = (await paid_community(world, owner))["id"]
    added = await world.api.put(f"/v1/brands/{brand['id']}/admins/{owner_id}", headers=boss)
    assert added.status_code in (200, 201), added.text
    attached = await world.api.post(f"/v1/brands/{brand['id']}/communities", json={"communityId": cid}, headers=owner)
    assert attached.status_code == 200, attached.text
    admin_id, admin, admin_order = await paid_member(world, owner, cid)
    promoted = await world.api.put(f"/v1/communities/{cid}/members/{admin_id}", json={"role": "admin"}, headers=owner)
    assert promoted.status_code == 200, promoted.text
    boss_order = (await join(world, boss, cid))["order"]
    await world.pay_order(boss_order)
    await world.pool.execute(
        "UPDATE orders SET paid_at = now() - interval '80 hours' WHERE id = ANY($1::bigint[])",
        [int(admin_order["id"]), int(boss_order["id"])],
    )

    for auth, order in ((admin, admin_order), (boss, boss_order)):
        url = f"/v1/communities/{cid}/orders/{order['id']}/refund"
        refused = await world.api.post(url, json={"reason": "自己退给自己", "amountFen": 100}, headers=auth)
        assert (refused.status_code, refused.json()["code"]) == (403, "refund_own_order"), refused.text
        assert refused.json()["userMessage"] == "不能为自己付款的订单退款，请由群主处理，或在退款期内自行申请退款。"
        assert (await world.get_order(order["id"], auth))["refunds"] == []
        # Their payer's route keeps its window.
        late = await world.api.post(f"/v1/orders/{order['id']}/refund", headers=auth)
        assert (late.status_code, late.json()["code"]) == (409, "refund_window_closed")
    # Another admin (here the owner) refunds them as any payer.
    by_owner = await world.api.post(
        f"/v1/communities/{cid}/orders/{admin_order['id']}/refund", json={"reason": "管理员退出"}, headers=owner
    )
    assert by_owner.status_code == 201, by_owner.text
    assert (await membership(world, admin, cid))["status"] == "left"

    # The owner's own order (bought as a member before ownership came to them): the money is theirs either way, so
    # they may take part of it back; all of it would end the membership an owner cannot leave.
    handed = await world.api.post(
        f"/v1/communities/{cid}/ownership-transfer", json={"userId": str(boss_id)}, headers=owner
    )
    assert handed.status_code == 200, handed.text
    url = f"/v1/communities/{cid}/orders/{boss_order['id']}/refund"
    part = await world.api.post(url, json={"reason": "多付了", "amountFen": 300}, headers=boss)
    assert part.status_code == 201 and part.json()["amountFen"] == 300, part.text
    whole = await world.api.post(url, json={"reason": "全部退回"}, headers=boss)
    assert (whole.status_code, whole.json()["code"]) == (409, "owner_must_transfer")
    await run_refund_jobs(world)
    assert await world.ledger_violations() == []


async def test_payments_that_cannot_be_honoured_are_refunded_with_the_reason(world):
    _, owner = await world.user()
    cid = (await paid_community(world, owner, memberCap=2))["id"]
    first, second = [await world.user() for _ in range(2)]
    orders = [(await join(world, auth, cid))["order"] for _, auth in (first, second)]
    for order in orders:
        await world.pay_order(order)
    assert (await membership(world, first[1], cid))["status"] == "active"
    assert await membership(world, second[1], cid) is None
    refused = await world.get_order(orders[1]["id"], second[1])
    assert refused["refunds"][0]["initiatedBy"] == "system"
    assert refused["refunds"][0]["reason"].startswith("community_full")
    assert (await join(world, second[1], cid, expect=409))["code"] == "community_full"  # before paying now

    # The owner stops taking paid entries while an order is open: the payment is refunded.
    cid2 = (await paid_community(world, owner))["id"]
    _, late = await world.user()
    order = (await join(world, late, cid2))["order"]
    await world.api.put(f"/v1/communities/{cid2}", json={"entryMode": "approval"}, headers=owner)
    await world.pay_order(order)
    await run_refund_jobs(world)
    closed = await world.wait_for(order["id"], late, "refunded")
    assert closed["refunds"][0]["reason"].startswith("community_closed")
    assert closed["refunds"][0]["notice"] == "社群已不再接受付费入群，入群费用原路退回"
    assert await membership(world, late, cid2) is None
    await world.wait_for(orders[1]["id"], second[1], "refunded")
    # What the payers read in WeChat's refund message: why, in Chinese (the reasons above stay machine text).
    assert await world.payer_reads(orders[1]) == ["社群名额已满，入群费用原路退回"]
    assert await world.payer_reads(order) == ["社群已不再接受付费入群，入群费用原路退回"]
    assert await world.ledger_violations() == []


async def test_invites_idempotency_and_removed_members(world):
    owner_id, owner = await world.user()
    cid = (await paid_community(world, owner))["id"]
    invite = (await world.api.post(f"/v1/communities/{cid}/invites", json={"maxUses": 2}, headers=owner)).json()
    invited_id, invited = await world.user()
    order = (await join(world, invited, cid, inviteCode=invite["code"]))["order"]
    uses = "SELECT uses FROM invites WHERE code = $1"
    assert await count(world, uses, invite["code"]) == 0  # counted when the payer is admitted
    await world.pay_order(order)
    assert await count(world, uses, invite["code"]) == 1
    referral = await world.pool.fetchrow("SELECT * FROM referrals WHERE referred_id = $1", invited_id)
    assert referral["referrer_id"] == owner_id and referral["community_id"] == int(cid)
    _, someone = await world.user()
    unknown = await world.api.post(f"/v1/communities/{cid}/join", json={"inviteCode": "nosuchcode"}, headers=someone)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "invite_not_found")

    keyed = {**someone, "Idempotency-Key": "join-1"}
    created = await world.api.post(f"/v1/communities/{cid}/join", headers=keyed)
    replayed = await world.api.post(f"/v1/communities/{cid}/join", headers=keyed)
    assert (created.status_code, replayed.status_code) == (201, 200)
    assert created.json()["order"]["id"] == replayed.json()["order"]["id"]
    other = (await paid_community(world, owner))["id"]
    reused = await world.api.post(f"/v1/communities/{other}/join", headers=keyed)
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")

    removed = await world.api.delete(f"/v1/communities/{cid}/members/{invited_id}", headers=owner)
    assert removed.status_code == 204
    back = await world.api.post(f"/v1/communities/{cid}/join", headers=invited)
    assert (back.status_code, back.json()["code"]) == (403, "member_removed")
    missing = await world.api.post("/v1/communities/999999/join", headers=invited)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
