"""Owner payouts over real HTTP: withdrawing the entry fees past their refund window by merchant transfer
through the Pay sandbox, once, with failed transfers releasing the money and refunds and payouts racing."""

from __future__ import annotations

import asyncio

from tests.checkout.test_paid_entry import audit, paid_community, paid_member


async def aged(world, *orders: dict) -> None:
    """Move payments past their 72-hour refund window."""
    ids = [int(order["id"]) for order in orders]
    await world.pool.execute("UPDATE orders SET paid_at = now() - interval '73 hours' WHERE id = ANY($1)", ids)


async def earnings(world, cid: str, auth: dict) -> dict:
    response = await world.api.get(f"/v1/communities/{cid}/earnings", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


async def withdraw(world, cid: str, auth: dict, expect: int = 201, **headers) -> dict:
    response = await world.api.post(f"/v1/communities/{cid}/payouts", headers={**auth, **headers})
    assert response.status_code == expect, response.text
    return response.json()


async def finish_transfer(world, transfer_id: str, result: str) -> None:
    out_bill_no = await world.pool.fetchval("SELECT out_bill_no FROM transfers WHERE id = $1", int(transfer_id))
    confirmed = await world.control.post("/sandbox/pay/transfers", json={"outBillNo": out_bill_no, "result": result})
    assert confirmed.json()["deliveredStatus"] == 204, confirmed.text


async def test_the_owner_withdraws_what_is_past_the_refund_window_once(world):
    owner_id, owner = await world.user()
    _, stranger = await world.user()
    cid = (await paid_community(world, owner))["id"]
    _, plain, a_order = await paid_member(world, owner, cid)
    _, _, b_order = await paid_member(world, owner, cid)
    _, _, c_order = await paid_member(world, owner, cid)
    admin_id, admin, _ = await paid_member(world, owner, cid)
    promoted = await world.api.put(f"/v1/communities/{cid}/members/{admin_id}", json={"role": "admin"}, headers=owner)
    assert promoted.status_code == 200, promoted.text
    await aged(world, a_order, b_order)

    before = await earnings(world, cid, owner)
    assert (before["withdrawableFen"], before["inRefundWindowFen"], before["payingOutFen"]) == (1980, 1980, 0)
    for auth, status, code in ((admin, 403, "forbidden"), (plain, 403, "forbidden"), (stranger, 403, "not_member")):
        refused = await world.api.post(f"/v1/communities/{cid}/payouts", headers=auth)
        assert (refused.status_code, refused.json()["code"]) == (status, code)

    payout = await withdraw(world, cid, owner, **{"Idempotency-Key": "payout-1"})
    assert (payout["amountFen"], payout["orderCount"], payout["status"], payout["payeeId"]) == (
        1980,
        2,
        "pending",
        str(owner_id),
    )
    replay = await world.api.post(f"/v1/communities/{cid}/payouts", headers={**owner, "Idempotency-Key": "payout-1"})
    assert replay.json()["id"] == payout["id"] and replay.headers["idempotent-replayed"] == "true"
    nothing = await world.api.post(f"/v1/communities/{cid}/payouts", headers=owner)
    assert (nothing.status_code, nothing.json()["code"]) == (409, "nothing_to_withdraw")
    during = await earnings(world, cid, admin)
    assert (during["withdrawableFen"], during["payingOutFen"], during["paidOutFen"]) == (0, 1980, 0)

    # A paid-out payment is no longer refundable; one still inside its window is.
    refund = {"reason": "活动取消"}
    paid_out = await world.api.post(f"/v1/communities/{cid}/orders/{a_order['id']}/refund", json=refund, headers=owner)
    assert (paid_out.status_code, paid_out.json()["code"]) == (409, "order_paid_out")
    inside = await world.api.post(f"/v1/communities/{cid}/orders/{c_order['id']}/refund", json=refund, headers=owner)
    assert inside.status_code == 201, inside.text

    await world.run_due_jobs()
    transfer = (await world.api.get(f"/v1/transfers/{payout['transferId']}", headers=owner)).json()
    assert (transfer["status"], transfer["amountFen"]) == ("wait_user_confirm", 1980) and transfer["packageInfo"]
    await finish_transfer(world, payout["transferId"], "success")

    after = await earnings(world, cid, owner)
    assert (after["withdrawableFen"], after["payingOutFen"], after["paidOutFen"]) == (0, 0, 1980)
    listed = (await world.api.get(f"/v1/communities/{cid}/payouts", headers=admin)).json()
    assert [(p["id"], p["status"]) for p in listed["items"]] == [(payout["id"], "succeeded")]
    assert listed["items"][0]["finishedAt"] and listed["nextCursor"] is None
    ledger = await world.pool.fetchval(
        "SELECT sum(amount_fen) FROM ledger_entries WHERE kind = 'transfer' AND transfer_id = $1",
        int(payout["transferId"]),
    )
    assert ledger == 1980 and await world.ledger_violations() == []
    assert (await world.api.get(f"/v1/communities/{cid}/payouts", headers=plain)).status_code == 403


async def test_a_failed_transfer_makes_the_money_withdrawable_again(world):
    _, owner = await world.user()
    cid = (await paid_community(world, owner))["id"]
    _, _, order = await paid_member(world, owner, cid)
    await aged(world, order)
    first = await withdraw(world, cid, owner)
    await world.run_due_jobs()
    await finish_transfer(world, first["transferId"], "cancelled")  # not confirmed within 24 hours

    failed = (await world.api.get(f"/v1/communities/{cid}/payouts", headers=owner)).json()["items"]
    assert [(p["id"], p["status"]) for p in failed] == [(first["id"], "failed")]
    assert (await earnings(world, cid, owner))["withdrawableFen"] == 990
    second = await withdraw(world, cid, owner)
    assert second["transferId"] != first["transferId"] and second["amountFen"] == 990
    await world.run_due_jobs()
    await finish_transfer(world, second["transferId"], "success")
    done = await earnings(world, cid, owner)
    assert (done["withdrawableFen"], done["paidOutFen"]) == (0, 990)
    assert await world.pool.fetchval("SELECT count(*) FROM ledger_entries WHERE kind = 'transfer'") == 1


async def test_payouts_stay_under_what_one_transfer_may_carry(world):
    _, owner = await world.user()
    cid = (await paid_community(world, owner, price_fen=100_000))["id"]
    orders = [(await paid_member(world, owner, cid))[2] for _ in range(3)]
    await aged(world, *orders)
    amounts = [(await withdraw(world, cid, owner))["amountFen"] for _ in range(3)]
    assert amounts == [100_000, 100_000, 100_000]  # two would be 2,000 yuan: WeChat asks the real name
    await withdraw(world, cid, owner, expect=409)

    expensive = (await paid_community(world, owner, price_fen=300_000))["id"]
    await aged(world, (await paid_member(world, owner, expensive))[2])
    too_large = await world.api.post(f"/v1/communities/{expensive}/payouts", headers=owner)
    assert (too_large.status_code, too_large.json()["code"]) == (409, "payout_too_large")


async def test_racing_payouts_and_refunds_never_share_a_payment(world):
    _, owner = await world.user()
    cid = (await paid_community(world, owner))["id"]
    orders = [(await paid_member(world, owner, cid))[2] for _ in range(12)]
    await aged(world, *orders)

    async def refund(order: dict) -> int:
        url = f"/v1/communities/{cid}/orders/{order['id']}/refund"
        return (await world.api.post(url, json={"reason": "race"}, headers=owner)).status_code

    async def payout() -> int:
        return (await world.api.post(f"/v1/communities/{cid}/payouts", headers=owner)).status_code

    answers = await asyncio.gather(*(refund(o) for o in orders[::2]), *(payout() for _ in range(4)))
    assert set(answers) <= {201, 409}
    rows = await world.pool.fetch(
        "SELECT o.id, o.payout_id, (SELECT count(*) FROM refunds r WHERE r.order_id = o.id) AS refunds "
        "FROM orders o WHERE o.id = ANY($1)",
        [int(o["id"]) for o in orders],
    )
    assert all((row["payout_id"] is not None) != (row["refunds"] > 0) for row in rows)  # one or the other
    assert sum(row["refunds"] for row in rows) == answers[:6].count(201)
    held = sum(990 for row in rows if row["payout_id"] is not None)
    assert await world.pool.fetchval("SELECT coalesce(sum(amount_fen), 0) FROM payouts") == held
    assert answers[6:].count(201) == await world.pool.fetchval("SELECT count(*) FROM payouts")
    assert await world.ledger_violations() == []


async def test_a_failed_status_query_keeps_the_transfer_waiting(world):
    """A 4xx on the query of a transfer WeChat accepted says nothing of the transfer: it stays waiting for the
    owner, the payout keeps its payments (no second withdrawal of them) and the job asks again (found by review)."""
    _, owner = await world.user()
    cid = (await paid_community(world, owner))["id"]
    _, _, a_order = await paid_member(world, owner, cid)
    _, _, b_order = await paid_member(world, owner, cid)
    await aged(world, a_order, b_order)
    first = await withdraw(world, cid, owner)
    await world.run_due_jobs()  # sent: WAIT_USER_CONFIRM at WeChat
    fault = {"operation": "transfer_query", "times": 1, "status": 404, "code": "NOT_FOUND", "message": "记录不存在"}
    await world.control.post("/sandbox/pay/faults", json=fault)
    await world.pool.execute("UPDATE jobs SET run_at = now() WHERE kind = 'checkout.transfer'")
    assert await world.worker.run_once() == 1
    job = await world.pool.fetchrow("SELECT status, attempts, last_error FROM jobs WHERE kind = 'checkout.transfer'")
    assert (job["status"], job["attempts"]) == ("queued", 1) and "NOT_FOUND" in job["last_error"]  # backoff
    row = await world.pool.fetchrow("SELECT status, last_error FROM transfers WHERE id = $1", int(first["transferId"]))
    assert row["status"] == "wait_user_confirm" and "NOT_FOUND" in row["last_error"]

    again = await world.api.post(f"/v1/communities/{cid}/payouts", headers=owner)
    assert (again.status_code, again.json()["code"]) == (409, "nothing_to_withdraw")
    await world.run_due_jobs()  # the next query answers
    shown = (await world.api.get(f"/v1/transfers/{first['transferId']}", headers=owner)).json()
    assert shown["status"] == "wait_user_confirm" and shown["packageInfo"]
    await finish_transfer(world, first["transferId"], "success")
    done = await earnings(world, cid, owner)
    assert (done["withdrawableFen"], done["payingOutFen"], done["paidOutFen"]) == (0, 0, 1980)
    assert sum(t.amount for t in world.sandbox.transfers.values() if t.state == "SUCCESS") == 1980


async def test_a_transfer_paid_after_we_failed_it_is_booked(world):
    """A transfer failed by a wrong verdict of ours (what a query error once did) and then confirmed by the owner
    is booked: the transfer and its payout succeed and the ledger has the money that went out."""
    _, owner = await world.user()
    cid = (await paid_community(world, owner))["id"]
    _, _, order = await paid_member(world, owner, cid)
    await aged(world, order)
    payout = await withdraw(world, cid, owner)
    await world.run_due_jobs()  # WAIT_USER_CONFIRM at WeChat
    # What the old verdict left behind: the transfer and its payout failed, the payment released.
    transfer_id = int(payout["transferId"])
    await world.pool.execute("UPDATE transfers SET status = 'failed', finished_at = now() WHERE id = $1", transfer_id)
    await world.pool.execute(
        "UPDATE payouts SET status = 'failed', finished_at = now() WHERE id = $1", int(payout["id"])
    )
    await world.pool.execute("UPDATE orders SET payout_id = NULL WHERE payout_id = $1", int(payout["id"]))

    await finish_transfer(world, payout["transferId"], "success")  # the owner confirms it anyway: 204
    shown = (await world.api.get(f"/v1/transfers/{payout['transferId']}", headers=owner)).json()
    listed = (await world.api.get(f"/v1/communities/{cid}/payouts", headers=owner)).json()["items"]
    assert (shown["status"], [p["status"] for p in listed]) == ("succeeded", ["succeeded"])
    booked = await world.pool.fetchval("SELECT sum(amount_fen) FROM ledger_entries WHERE transfer_id = $1", transfer_id)
    assert booked == 990 and await world.ledger_violations() == []
    finished = await audit(world, owner, cid, "payout.finished")
    assert [item["details"] for item in finished] == [
        {"payoutId": payout["id"], "amountFen": 990, "status": "succeeded", "afterFailure": True}
    ]
