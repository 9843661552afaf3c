"""Checkout over real HTTP: the API and the Pay sandbox on loopback, notifications sent by the sandbox."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from service.core import money as logic
from service.wechat import pay as wxpay


async def admissions(world, subject_id: int | None = None) -> int:
    if subject_id is None:
        return await world.pool.fetchval("SELECT count(*) FROM test_admissions")
    return await world.pool.fetchval("SELECT count(*) FROM test_admissions WHERE subject_id = $1", subject_id)


async def ledger(world, kind: str = "payment") -> int:
    return await world.pool.fetchval("SELECT count(*) FROM ledger_entries WHERE kind = $1", kind)


async def new_transfer(world, payee_id: int, amount_fen: int, remark: str, dedupe_key: str) -> int:
    """A transfer of this test's purpose to ``payee_id``, created in a transaction of its own."""
    async with world.pool.acquire() as conn, conn.transaction():
        return await logic.create_transfer(
            conn,
            payee_user_id=payee_id,
            amount_fen=amount_fen,
            purpose="test_entry",
            subject_id=1,
            community_id=world.community_id,
            remark=remark,
            dedupe_key=dedupe_key,
        )


async def test_pay_notify_admit_once(world):
    user_id, auth = await world.user()
    order = await world.order(auth, amount_fen=990)
    assert order["status"] == "created" and order["amountFen"] == 990 and order["refunds"] == []
    payment = order["payment"]
    message = f"{world.pay.config.appid}\n{payment['timeStamp']}\n{payment['nonceStr']}\n{payment['package']}\n"
    world.pay.config.merchant_key.public_key().verify(
        base64.b64decode(payment["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    paid = await world.pay_order(order)
    assert paid["deliveredStatus"] == 204
    order = await world.get_order(order["id"], auth)
    assert order["status"] == "paid" and order["payment"] is None
    assert datetime.fromisoformat(order["refundableUntil"]) - datetime.fromisoformat(order["paidAt"]) == timedelta(
        hours=72
    )
    assert await admissions(world) == 1 and await ledger(world) == 1
    await world.run_due_jobs()  # reconcile and expire find nothing to do
    assert (await world.get_order(order["id"], auth))["status"] == "paid"
    assert await world.pool.fetchval("SELECT count(*) FROM jobs WHERE status <> 'done'") == 0
    assert await world.ledger_violations() == []


async def test_order_creation_is_idempotent(world):
    _, auth = await world.user()
    first = await world.order(auth)
    again = await world.order(auth)  # the still-payable order of this payer and subject
    assert again["id"] == first["id"]
    keyed = [world.order({**auth, "Idempotency-Key": "k1"}, subject_id=2) for _ in range(5)]
    ids = {o["id"] for o in await asyncio.gather(*keyed)}
    assert len(ids) == 1
    assert await world.pool.fetchval("SELECT count(*) FROM orders") == 2
    assert await world.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'checkout.expire'") == 2


async def test_duplicated_and_reordered_notifications_apply_once(world):
    orders = []
    for _ in range(2):
        _, auth = await world.user()
        order = await world.order(auth)
        paid = await world.pay_order(order, drop=True)
        orders.append((order, auth, paid["notificationId"]))
    replays = [n for _, _, n in orders for _ in range(10)]
    random.shuffle(replays)
    statuses = await asyncio.gather(
        *(world.control.post(f"/sandbox/pay/notifications/{n}/replay", json={}) for n in replays)
    )
    assert {s.json()["deliveredStatus"] for s in statuses} == {204}
    for order, auth, _ in orders:
        assert (await world.get_order(order["id"], auth))["status"] == "paid"
    assert await admissions(world) == 2 and await ledger(world) == 2
    assert await world.ledger_violations() == []


def resource_notification(world, keys, transaction: dict, *, event: str = "TRANSACTION.SUCCESS") -> bytes:
    resource = wxpay.aes_gcm_encrypt(keys.apiv3_key.encode(), json.dumps(transaction).encode(), "transaction")
    return json.dumps(
        {
            "id": "EV-forged",
            "create_time": "",
            "event_type": event,
            "resource_type": "encrypt-resource",
            "resource": resource,
        }
    ).encode()


def _signer(keys):
    def signed(body: bytes, key=keys.platform_key, key_serial=keys.public_key_id, timestamp=None) -> dict:
        return {**wxpay.signed_headers(key, key_serial, body, timestamp), "Content-Type": "application/json"}

    return signed


def _unverifiable(keys, body: bytes) -> list[tuple]:
    """``body`` as WeChat Pay would never send it: (name, body, headers, status, code) each."""
    signed = _signer(keys)
    return [
        ("forged signature", body, signed(body, key=wxpay.new_rsa_key()), 401, "pay_signature_invalid"),
        ("wrong serial", body, signed(body, key_serial="PUB_KEY_ID_0000OLD"), 401, "pay_serial_unknown"),
        ("stale", body, signed(body, timestamp=int(time.time()) - 301), 401, "pay_notification_stale"),
        ("altered body", body.replace(b'"id":"', b'"id":"x'), signed(body), 401, "pay_signature_invalid"),
        ("no signature", body, {"Content-Type": "application/json"}, 401, "pay_signature_invalid"),
    ]


async def test_forged_stale_and_mismatching_notifications_change_nothing(world, sandbox_keys):
    _, auth = await world.user()
    order = await world.order(auth, amount_fen=1500)
    paid = await world.pay_order(order, drop=True)
    genuine = world.sandbox.notifications[paid["notificationId"]]
    transaction = world.sandbox.transaction(world.sandbox.orders[order["outTradeNo"]])
    signed = _signer(sandbox_keys)
    cases = _unverifiable(sandbox_keys, genuine.body)
    for field, value in (("amount", {**transaction["amount"], "total": 1}), ("appid", "wxother"), ("mchid", "19")):
        body = resource_notification(world, sandbox_keys, {**transaction, field: value})
        cases.append((f"wrong {field}", body, signed(body), 409, "pay_notification_mismatch"))
    body = resource_notification(world, sandbox_keys, {**transaction, "out_trade_no": "CKNOTOURS"})
    cases.append(("unknown order", body, signed(body), 404, "pay_notification_unknown"))
    body = resource_notification(world, sandbox_keys, {**transaction, "payer": {"openid": "oSomeoneElse"}})
    cases.append(("wrong payer", body, signed(body), 409, "pay_notification_mismatch"))
    for name, body, headers, status, code in cases:
        response = await world.api.post("/v1/pay/notify", content=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code), name
    assert (await world.get_order(order["id"], auth))["status"] == "created"
    assert await admissions(world) == 0 and await ledger(world) == 0
    # The original, resent as WeChat does, still works.
    replay = await world.control.post(f"/sandbox/pay/notifications/{genuine.id}/replay", json={})
    assert replay.json()["deliveredStatus"] == 204
    assert (await world.get_order(order["id"], auth))["status"] == "paid"


async def test_a_lost_notification_is_recovered_by_reconciliation(world):
    _, auth = await world.user()
    order = await world.order(auth)
    await world.pay_order(order, drop=True)
    assert (await world.get_order(order["id"], auth))["status"] == "created"
    await world.run_due_jobs()
    assert (await world.get_order(order["id"], auth))["status"] == "paid"
    assert await admissions(world) == 1 and await ledger(world) == 1


async def test_an_unpaid_order_is_closed_after_it_expires(world):
    _, auth = await world.user()
    order = await world.order(auth)
    await world.run_due_jobs()  # before time_expire: reconcile and expire wait
    assert (await world.get_order(order["id"], auth))["status"] == "created"
    assert await world.pool.fetchval("SELECT count(*) FROM jobs WHERE status = 'queued'") == 2
    await world.pool.execute("UPDATE orders SET time_expire = now() - interval '1 second'")
    await world.run_due_jobs()
    assert (await world.get_order(order["id"], auth))["status"] == "closed"
    assert world.sandbox.orders[order["outTradeNo"]].trade_state == "CLOSED"
    late = await world.control.post("/sandbox/pay", json={"prepayId": order["payment"]["package"][10:]})
    assert late.json()["code"] == "ORDER_CLOSED"
    assert (await world.order(auth))["id"] != order["id"]  # a new order for the same thing


async def test_a_payment_at_the_last_moment_wins_over_closing(world):
    _, auth = await world.user()
    order = await world.order(auth)
    await world.pay_order(order, drop=True)
    await world.pool.execute("UPDATE orders SET time_expire = now() - interval '1 second'")
    await world.pool.execute("UPDATE jobs SET status = 'done' WHERE kind = 'checkout.reconcile'")
    await world.run_due_jobs()  # expire: WeChat answers ORDERPAID, the payment is applied
    assert (await world.get_order(order["id"], auth))["status"] == "paid"
    assert await admissions(world) == 1


async def test_refund_inside_the_window(world):
    user_id, auth = await world.user()
    order = await world.order(auth, amount_fen=2000)
    await world.pay_order(order)
    asked = await world.api.post(f"/v1/orders/{order['id']}/refund", json={"reason": "changed my mind"}, headers=auth)
    assert asked.status_code == 201, asked.text
    refund = asked.json()
    assert refund["amountFen"] == 2000 and refund["initiatedBy"] == "payer"
    assert await admissions(world) == 0  # the member left when asking
    again = await world.api.post(f"/v1/orders/{order['id']}/refund", headers={**auth, "Idempotency-Key": "r"})
    assert again.status_code == 201 and again.json()["id"] == refund["id"]
    done = await world.wait_for(order["id"], auth, "refunded")
    assert done["refundedFen"] == 2000 and done["refunds"][0]["status"] == "succeeded"
    assert len(world.sandbox.refunds) == 1
    assert await ledger(world, "refund") == 1 and await world.ledger_violations() == []
    notified = [n for n in world.sandbox.notifications.values() if n.kind == "refund"][0]
    await world.control.post(f"/sandbox/pay/notifications/{notified.id}/replay", json={})
    assert await ledger(world, "refund") == 1
    refused = await world.api.post(f"/v1/orders/{order['id']}/refund", headers=auth)
    assert refused.json()["id"] == refund["id"]  # still the same refund, not a second one


async def test_refund_outside_the_window_and_other_refusals(world):
    _, auth = await world.user()
    _, stranger = await world.user()
    order = await world.order(auth)
    unpaid = await world.api.post(f"/v1/orders/{order['id']}/refund", headers=auth)
    assert (unpaid.status_code, unpaid.json()["code"]) == (409, "order_not_paid")
    await world.pay_order(order)
    assert (await world.api.get(f"/v1/orders/{order['id']}", headers=stranger)).status_code == 404
    assert (await world.api.post(f"/v1/orders/{order['id']}/refund", headers=stranger)).status_code == 404
    assert (await world.api.get(f"/v1/orders/{order['id']}")).status_code == 401
    await world.pool.execute("UPDATE orders SET paid_at = now() - interval '72 hours 1 minute'")
    late = await world.api.post(f"/v1/orders/{order['id']}/refund", headers=auth)
    assert (late.status_code, late.json()["code"]) == (409, "refund_window_closed")
    assert await admissions(world) == 1 and len(world.sandbox.refunds) == 0


async def test_payments_beyond_the_seats_are_refunded_automatically(world):
    await world.pool.execute("INSERT INTO test_seats VALUES (7, 5)")
    payers = [await world.user() for _ in range(12)]
    orders = [await world.order(auth, subject_id=7) for _, auth in payers]
    await asyncio.gather(*(world.pay_order(order) for order in orders))
    assert await admissions(world, 7) == 5
    await world.run_due_jobs()  # the worker submits the automatic refunds
    statuses = []
    for order, (_, auth) in zip(orders, payers, strict=True):
        got = await world.get_order(order["id"], auth)
        if got["status"] != "paid" or got["refunds"]:
            got = await world.wait_for(order["id"], auth, "refunded")
            assert got["refunds"][0]["initiatedBy"] == "system"
            assert got["refunds"][0]["reason"].startswith("community_full")
        statuses.append(got["status"])
    assert statuses.count("paid") == 5 and statuses.count("refunded") == 7
    assert await world.ledger_violations() == []


async def test_refunds_are_retried_with_backoff(world):
    _, auth = await world.user()
    order = await world.order(auth, amount_fen=3000)
    await world.pay_order(order)
    await world.control.post("/sandbox/pay/faults", json={"operation": "refund", "times": 2})
    async with world.pool.acquire() as conn, conn.transaction():
        refund = await logic.refund_order(conn, int(order["id"]), amount_fen=1000, reason="admin: duplicate charge")
    assert refund.status == "pending" and refund.initiated_by == "admin"
    assert await world.worker.run_once() == 1  # first try: SYSTEM_ERROR
    job = await world.pool.fetchrow("SELECT * FROM jobs WHERE kind = 'checkout.refund'")
    assert job["status"] == "queued" and job["attempts"] == 1 and "SYSTEM_ERROR" in job["last_error"]
    assert (await world.pool.fetchval("SELECT last_error FROM refunds")).startswith("WeChat Pay 500 SYSTEM_ERROR")
    await world.run_due_jobs()
    got = await world.get_order(order["id"], auth)
    for _ in range(100):
        if got["refundedFen"] == 1000:
            break
        await asyncio.sleep(0.02)
        got = await world.get_order(order["id"], auth)
    assert got["status"] == "paid" and got["refundedFen"] == 1000  # partial: the member stays
    assert await admissions(world) == 0  # on_refund ran for the admin refund (test purpose: leave)
    assert await world.ledger_violations() == []


async def test_transfer_to_a_member(world):
    payee_id, auth = await world.user()
    _, stranger = await world.user()
    await world.control.post("/sandbox/pay/faults", json={"operation": "transfer", "times": 1})
    async with world.pool.acquire() as conn, conn.transaction():
        transfer_id = await logic.create_transfer(
            conn,
            payee_user_id=payee_id,
            amount_fen=4200,
            purpose="test_entry",
            subject_id=1,
            community_id=world.community_id,
            remark="collection settled",
            dedupe_key="collection:1",
        )
        assert (
            await logic.create_transfer(
                conn,
                payee_user_id=payee_id,
                amount_fen=4200,
                purpose="test_entry",
                subject_id=1,
                community_id=world.community_id,
                remark="collection settled",
                dedupe_key="collection:1",
            )
            == transfer_id
        )
    await world.run_due_jobs()
    view = (await world.api.get(f"/v1/transfers/{transfer_id}", headers=auth)).json()
    assert view["status"] == "wait_user_confirm" and view["packageInfo"] and view["mchId"] == world.pay.config.mchid
    assert (await world.api.get(f"/v1/transfers/{transfer_id}", headers=stranger)).status_code == 404
    out_bill_no = await world.pool.fetchval("SELECT out_bill_no FROM transfers")
    confirmed = await world.control.post("/sandbox/pay/transfers", json={"outBillNo": out_bill_no})
    assert confirmed.json()["deliveredStatus"] == 204
    view = (await world.api.get(f"/v1/transfers/{transfer_id}", headers=auth)).json()
    assert view["status"] == "succeeded" and view["packageInfo"] is None
    notified = [n for n in world.sandbox.notifications.values() if n.kind == "transfer"][0]
    await world.control.post(f"/sandbox/pay/notifications/{notified.id}/replay", json={})
    assert await ledger(world, "transfer") == 1
    assert len(world.sandbox.transfers) == 1


async def test_the_invariant_check_catches_a_broken_ledger(world):
    _, auth = await world.user()
    order = await world.order(auth)
    await world.pay_order(order)
    assert await world.ledger_violations() == []
    await world.pool.execute("UPDATE orders SET refunded_fen = 100")
    problems = {problem for _, problem in await world.ledger_violations()}
    assert "ledger refunds differ from the order's refunded amount" in problems


@pytest.mark.parametrize("event", ["TRANSACTION.SUCCESS"])
async def test_notifications_are_answered_fast(world, event):
    _, auth = await world.user()
    order = await world.order(auth)
    paid = await world.pay_order(order, drop=True)
    sent = world.sandbox.notifications[paid["notificationId"]]
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        response = await world.api.post("/v1/pay/notify", content=sent.body, headers=sent.headers)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 204
    assert sorted(timings)[18] < 0.25  # generous on a shared 2-core machine; `make bench` measures for real


async def test_wechat_outage_at_order_time_is_503_and_the_retry_places_the_order(world):
    _, auth = await world.user()
    await world.control.post("/sandbox/pay/faults", json={"operation": "jsapi", "times": 1})
    body = {"amountFen": 100, "communityId": world.community_id}
    failed = await world.api.post("/test/orders", json=body, headers=auth)
    assert (failed.status_code, failed.json()["code"]) == (503, "payment_unavailable")
    order = await world.order(auth, amount_fen=100)
    assert order["payment"] and world.sandbox.calls["jsapi"] == 2
    assert await world.pool.fetchval("SELECT count(*) FROM orders") == 1
    async with world.pool.acquire() as conn:
        listed = await logic.subject_orders(conn, world.pay, world.settings, "test_entry", 1, limit=10)
    assert [o.id for o in listed] == [order["id"]]


async def test_a_payment_for_a_closed_order_is_recorded_and_refunded(world, sandbox_keys):
    _, auth = await world.user()
    order = await world.order(auth, amount_fen=700)
    await world.pool.execute("UPDATE orders SET status = 'closed', closed_at = now()")
    sandbox_order = world.sandbox.orders[order["outTradeNo"]]
    transaction = {
        **world.sandbox.transaction(sandbox_order),
        "trade_state": "SUCCESS",
        "transaction_id": "4200000000000000000001",
        "success_time": wxpay.format_time(datetime.now().astimezone()),
        "amount": {"total": 700, "payer_total": 700, "currency": "CNY", "payer_currency": "CNY"},
    }
    body = resource_notification(world, sandbox_keys, transaction)
    headers = {**wxpay.signed_headers(sandbox_keys.platform_key, sandbox_keys.public_key_id, body)}
    assert (await world.api.post("/v1/pay/notify", content=body, headers=headers)).status_code == 204
    got = await world.get_order(order["id"], auth)
    assert got["status"] == "paid" and got["refunds"][0]["reason"].startswith("order_closed")
    assert await admissions(world) == 0  # on_paid never ran
    assert await world.ledger_violations() == []


def _resealed(keys, genuine_body: bytes, change) -> bytes:
    """The genuine notification with its resource decrypted, changed by ``change`` and encrypted again."""
    envelope = json.loads(genuine_body)
    resource = envelope["resource"]
    data = json.loads(
        wxpay.aes_gcm_decrypt(
            keys.apiv3_key.encode(), resource["nonce"], resource["ciphertext"], resource["associated_data"]
        )
    )
    change(data)
    plaintext = json.dumps(data).encode()
    envelope["resource"] = wxpay.aes_gcm_encrypt(keys.apiv3_key.encode(), plaintext, resource["associated_data"])
    return json.dumps(envelope).encode()


async def _refused_then_genuine(world, keys, path: str, genuine, mismatch, unknown) -> None:
    """Every bad variant of ``genuine`` is refused with its code; the caller checks nothing changed."""
    signed = _signer(keys)
    mismatched, unknown_body = _resealed(keys, genuine.body, mismatch), _resealed(keys, genuine.body, unknown)
    cases = [
        *_unverifiable(keys, genuine.body),
        ("wrong amount", mismatched, signed(mismatched), 409, "pay_notification_mismatch"),
        ("unknown", unknown_body, signed(unknown_body), 404, "pay_notification_unknown"),
    ]
    for name, body, headers, status, code in cases:
        response = await world.api.post(path, content=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code), name


async def test_forged_stale_and_mismatching_refund_and_transfer_notifications_change_nothing(world, sandbox_keys):
    payee_id, auth = await world.user()
    world.sandbox.auto_complete_refunds = False
    order = await world.order(auth, amount_fen=2500)
    await world.pay_order(order)
    assert (await world.api.post(f"/v1/orders/{order['id']}/refund", headers=auth)).status_code == 201
    await world.run_due_jobs()  # the refund is submitted; WeChat has not finished it
    out_refund_no = await world.pool.fetchval("SELECT out_refund_no FROM refunds")
    finished = await world.control.post("/sandbox/pay/refunds", json={"outRefundNo": out_refund_no, "drop": True})
    assert finished.json()["deliveredStatus"] is None
    genuine = next(n for n in world.sandbox.notifications.values() if n.kind == "refund")

    def more(data):
        data["amount"]["refund"] += 1

    def other(data):
        data["out_refund_no"] = "RFNOTOURS"

    await _refused_then_genuine(world, sandbox_keys, "/v1/pay/refund-notify", genuine, more, other)
    assert await world.pool.fetchval("SELECT status FROM refunds") != "succeeded"
    assert await ledger(world, "refund") == 0
    replay = await world.control.post(f"/sandbox/pay/notifications/{genuine.id}/replay", json={})
    assert replay.json()["deliveredStatus"] == 204
    assert (await world.get_order(order["id"], auth))["status"] == "refunded"
    assert await ledger(world, "refund") == 1 and await world.ledger_violations() == []

    transfer_id = await new_transfer(world, payee_id, 4200, "collection settled", "collection:9")
    await world.run_due_jobs()
    out_bill_no = await world.pool.fetchval("SELECT out_bill_no FROM transfers")
    confirmed = await world.control.post("/sandbox/pay/transfers", json={"outBillNo": out_bill_no, "drop": True})
    assert confirmed.json()["deliveredStatus"] is None
    genuine = next(n for n in world.sandbox.notifications.values() if n.kind == "transfer")

    def more(data):
        data["transfer_amount"] += 1

    def other(data):
        data["out_bill_no"] = "TBNOTOURS"

    await _refused_then_genuine(world, sandbox_keys, "/v1/pay/transfer-notify", genuine, more, other)
    view = (await world.api.get(f"/v1/transfers/{transfer_id}", headers=auth)).json()
    assert view["status"] == "wait_user_confirm" and await ledger(world, "transfer") == 0
    replay = await world.control.post(f"/sandbox/pay/notifications/{genuine.id}/replay", json={})
    assert replay.json()["deliveredStatus"] == 204
    assert (await world.api.get(f"/v1/transfers/{transfer_id}", headers=auth)).json()["status"] == "succeeded"
    assert await ledger(world, "transfer") == 1


async def test_a_refund_survives_an_unverifiable_answer_and_a_failed_query(world):
    """Only a send WeChat refuses fails a refund. An answer that fails verification (WeChat may have taken the
    refund) keeps it pending and it is sent again; a 4xx on its query keeps it processing until WeChat says how it
    ended (both once made it `failed`, and the success that followed was never booked; found by review)."""
    await world.control.put("/sandbox/pay/settings", json={"autoCompleteRefunds": False})
    _, auth = await world.user()
    order = await world.order(auth, amount_fen=1200)
    await world.pay_order(order)
    async with world.pool.acquire() as conn, conn.transaction():
        refund = await logic.refund_order(conn, int(order["id"]), reason="admin: duplicate charge")
    # WeChat's answer signed by a key we do not know (a rotation not yet configured, a bad proxy).
    stranger = {world.pay.config.platform_serial: wxpay.new_rsa_key().public_key()}
    impostor = wxpay.WeChatPay(
        wxpay.PayConfig(**{**world.pay.config.__dict__, "platform_keys": stranger}), world.pay.http
    )
    with pytest.raises(wxpay.PayError) as unverified:
        await logic.submit_refund(world.pool, impostor, int(refund.id))
    assert unverified.value.code == "ANSWER_NOT_VERIFIED" and len(world.sandbox.refunds) == 1  # WeChat has it
    row = await world.pool.fetchrow("SELECT status, last_error, out_refund_no FROM refunds")
    assert row["status"] == "pending" and "ANSWER_NOT_VERIFIED" in row["last_error"]

    await world.run_due_jobs()  # sent again: the same refund, processing
    assert await world.pool.fetchval("SELECT status FROM refunds") == "processing" and len(world.sandbox.refunds) == 1
    finished = await world.control.post(
        "/sandbox/pay/refunds", json={"outRefundNo": row["out_refund_no"], "drop": True}
    )
    assert finished.json()["deliveredStatus"] is None  # its notification is lost: only a query tells
    fault = {"operation": "refund_query", "times": 1, "status": 404, "code": "RESOURCE_NOT_EXISTS"}
    await world.control.post("/sandbox/pay/faults", json=fault)
    await world.pool.execute("UPDATE jobs SET run_at = now() WHERE kind = 'checkout.refund'")
    assert await world.worker.run_once() == 1
    assert await world.pool.fetchval("SELECT status FROM refunds") == "processing"
    await world.run_due_jobs()
    done = await world.get_order(order["id"], auth)
    assert (done["status"], done["refunds"][0]["status"]) == ("refunded", "succeeded")
    assert await ledger(world, "refund") == 1 and await world.ledger_violations() == []


async def test_a_transfer_wechat_refuses_to_send_fails(world):
    payee_id, _ = await world.user()
    await world.control.post(
        "/sandbox/pay/faults", json={"operation": "transfer", "status": 400, "code": "INVALID_REQUEST", "times": 1}
    )
    transfer_id = await new_transfer(world, payee_id, 300, "refused", "refused:1")
    await world.run_due_jobs()
    row = await world.pool.fetchrow("SELECT status, fail_reason FROM transfers WHERE id = $1", transfer_id)
    assert (row["status"], row["fail_reason"]) == ("failed", "INVALID_REQUEST")
    assert await world.pool.fetchval("SELECT status FROM jobs WHERE kind = 'checkout.transfer'") == "done"


async def test_a_refusal_not_signed_by_wechat_fails_nothing(world):
    """A 4xx fails a transfer for good, so it is believed only with WeChat's signature, as a success is: one signed
    by a key we do not know (a forger in the path, a rotation not configured) keeps the transfer pending."""
    payee_id, _ = await world.user()
    refusal = {"operation": "transfer", "status": 400, "code": "INVALID_REQUEST", "times": 1}
    await world.control.post("/sandbox/pay/faults", json=refusal)
    transfer_id = await new_transfer(world, payee_id, 300, "forged refusal", "forged:1")
    stranger = {world.pay.config.platform_serial: wxpay.new_rsa_key().public_key()}
    impostor = wxpay.WeChatPay(
        wxpay.PayConfig(**{**world.pay.config.__dict__, "platform_keys": stranger}), world.pay.http
    )
    with pytest.raises(wxpay.PayError) as unverified:
        await logic.submit_transfer(world.pool, impostor, transfer_id)
    assert (unverified.value.status, unverified.value.code) == (400, "ANSWER_NOT_VERIFIED")
    assert not unverified.value.refused
    row = await world.pool.fetchrow("SELECT status, last_error FROM transfers WHERE id = $1", transfer_id)
    assert row["status"] == "pending" and "ANSWER_NOT_VERIFIED" in row["last_error"]
    await world.run_due_jobs()  # sent again with WeChat's own keys: it goes through
    assert await world.pool.fetchval("SELECT status FROM transfers WHERE id = $1", transfer_id) == "wait_user_confirm"


async def test_a_late_query_error_does_not_undo_a_refund_that_succeeded(world):
    """The job reads the refund, asks WeChat, and the query fails (retryable) after REFUND.SUCCESS was applied
    meanwhile: the error is kept, the success stays (the status read before the call was written back: the refund
    went back to processing and every later try failed on the ledger's unique row; found by review)."""
    await world.control.put("/sandbox/pay/settings", json={"autoCompleteRefunds": False})
    _, auth = await world.user()
    order = await world.order(auth, amount_fen=2000)
    await world.pay_order(order)
    asked = await world.api.post(f"/v1/orders/{order['id']}/refund", json={"reason": "r"}, headers=auth)
    assert asked.status_code == 201 and asked.json()["status"] == "processing", asked.text
    out_refund_no = await world.pool.fetchval("SELECT out_refund_no FROM refunds")

    fault = {"operation": "refund_query", "times": 1, "delaySeconds": 1.0, "status": 500, "code": "SYSTEM_ERROR"}
    await world.control.post("/sandbox/pay/faults", json=fault)
    await world.pool.execute("UPDATE jobs SET run_at = now() WHERE kind = 'checkout.refund'")
    follow = asyncio.create_task(world.worker.run_once())  # the job's query is slow, then fails
    await asyncio.sleep(0.4)
    done = await world.control.post("/sandbox/pay/refunds", json={"outRefundNo": out_refund_no, "result": "success"})
    assert done.json()["deliveredStatus"] == 204  # REFUND.SUCCESS applied while the query is out
    assert await follow == 1
    row = await world.pool.fetchrow("SELECT status, last_error FROM refunds")
    assert row["status"] == "succeeded" and "SYSTEM_ERROR" in row["last_error"]
    await world.run_due_jobs()  # the job comes back, finds the refund finished and is done
    assert await world.pool.fetchval("SELECT status FROM jobs WHERE kind = 'checkout.refund'") == "done"
    assert (await world.get_order(order["id"], auth))["status"] == "refunded"
    assert await ledger(world, "refund") == 1 and await world.ledger_violations() == []


async def test_a_late_query_error_does_not_undo_a_transfer_that_succeeded(world):
    payee_id, auth = await world.user()
    transfer_id = await new_transfer(world, payee_id, 600, "settled", "late-error:1")
    await world.run_due_jobs()  # sent: WAIT_USER_CONFIRM
    out_bill_no = await world.pool.fetchval("SELECT out_bill_no FROM transfers")
    fault = {"operation": "transfer_query", "times": 1, "delaySeconds": 1.0, "status": 500, "code": "SYSTEM_ERROR"}
    await world.control.post("/sandbox/pay/faults", json=fault)
    await world.pool.execute("UPDATE jobs SET run_at = now() WHERE kind = 'checkout.transfer'")
    follow = asyncio.create_task(world.worker.run_once())
    await asyncio.sleep(0.4)
    confirmed = await world.control.post("/sandbox/pay/transfers", json={"outBillNo": out_bill_no})
    assert confirmed.json()["deliveredStatus"] == 204
    assert await follow == 1
    await world.run_due_jobs()
    view = (await world.api.get(f"/v1/transfers/{transfer_id}", headers=auth)).json()
    assert view["status"] == "succeeded" and await ledger(world, "transfer") == 1
    assert await world.pool.fetchval("SELECT status FROM jobs WHERE kind = 'checkout.transfer'") == "done"


async def test_a_notification_with_an_unreadable_success_time_is_malformed(world, sandbox_keys):
    """A verified TRANSACTION.SUCCESS whose success_time is no RFC 3339 time answers 400 and changes nothing (it
    was read only when recording the payment, outside the decoding's guard: 500; found by review)."""
    _, auth = await world.user()
    order = await world.order(auth, amount_fen=1500)
    paid = await world.pay_order(order, drop=True)
    transaction = world.sandbox.transaction(world.sandbox.orders[order["outTradeNo"]])
    body = resource_notification(world, sandbox_keys, {**transaction, "success_time": "2026-13-45 25:61"})
    response = await world.api.post("/v1/pay/notify", content=body, headers=_signer(sandbox_keys)(body))
    assert (response.status_code, response.json()["code"]) == (400, "pay_notification_malformed"), response.text
    assert (await world.get_order(order["id"], auth))["status"] == "created" and await ledger(world) == 0
    replay = await world.control.post(f"/sandbox/pay/notifications/{paid['notificationId']}/replay", json={})
    assert replay.json()["deliveredStatus"] == 204  # the genuine one is applied
    assert (await world.get_order(order["id"], auth))["status"] == "paid" and await world.ledger_violations() == []
