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
    worker = Worker(world.worker.context, concurrency=concurrency, lease=5, poll_interval=0.05)
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
