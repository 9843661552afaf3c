"""Member rewards paid out through the Pay sandbox, over real HTTP: a reward whose transfer failed or was returned
is sent again when the member asks, once however they ask; rewards under WeChat's 0.1 yuan minimum are paid
together once they reach it; every reward is paid once and the ledger balances."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from service.interactions import logic
from tests.checkout.conftest import OPERATOR_KEY
from tests.checkout.test_payouts import finish_transfer
from tests.scenario import Factory
from tests.world import assert_problem, notices

TZ = ZoneInfo("Asia/Shanghai")


async def rewarded_world(world) -> dict:
    """Two communities with one contributing member each (A in `large`, B in `small`): a pool over one of them goes
    to its member in full. Their posts are two days old and rolled up, so pools of that day commit."""
    owner_id, _ = await world.user()
    a_id, a = await world.user()
    b_id, b = await world.user()
    day = datetime.now(TZ).date() - timedelta(days=2)
    async with world.pool.acquire() as conn:
        f = Factory(conn, world.settings)
        large = await f.community("大额奖励群", owner=owner_id)
        small = await f.community("小额奖励群", owner=owner_id)
        for community, member in ((large, a_id), (small, b_id)):
            await f.join(community, member, at=datetime.combine(day, time(8), TZ))
            await f.post(
                community, member, "今天晨跑第一次打卡，配速五分半，感觉很好", at=datetime.combine(day, time(9), TZ)
            )
        await logic.rollup_incremental(conn, world.settings)
    return {"a": a, "a_id": a_id, "b": b, "large": str(large), "small": str(small), "day": str(day)}


async def commit_pool(world, community: str, amount_fen: int, day: str) -> dict:
    headers = {"x-operator-key": OPERATOR_KEY}
    body = {"amountFen": amount_fen, "start": day, "end": day, "communityIds": [community]}
    pool = await world.api.post("/v1/admin/reward-pools", json=body, headers=headers)
    assert pool.status_code == 201, pool.text
    committed = await world.api.post(f"/v1/admin/reward-pools/{pool.json()['id']}/commit", headers=headers)
    assert committed.status_code == 200, committed.text
    return committed.json()


async def my_rewards(world, auth: dict) -> list[dict]:
    response = await world.api.get("/v1/me/rewards", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def transfer(world, transfer_id: str, auth: dict) -> dict:
    response = await world.api.get(f"/v1/transfers/{transfer_id}", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


async def transfer_ledger(world) -> list[tuple[int, int]]:
    rows = await world.pool.fetch("SELECT transfer_id, amount_fen FROM ledger_entries WHERE kind = 'transfer'")
    return sorted((r["transfer_id"], r["amount_fen"]) for r in rows)


async def test_a_reward_whose_transfer_was_returned_is_sent_again_once(world):
    # Found in review: a reward whose transfer failed or was not confirmed stayed owed, and nothing sent it again.
    w = await rewarded_world(world)
    await commit_pool(world, w["large"], 50, w["day"])
    [reward] = await my_rewards(world, w["a"])
    assert (reward["amountFen"], reward["status"], reward["owedReason"]) == (50, "owed", "transfer_open")
    first = reward["transferId"]
    url = f"/v1/me/rewards/{reward['id']}/transfer"

    # While its transfer is open, asking answers that one; another member's reward is not theirs to ask for.
    still_open = await world.api.post(url, headers=w["a"])
    assert (still_open.status_code, still_open.json()["id"]) == (200, first), still_open.text
    assert_problem(await world.api.post(url, headers=w["b"]), 404, "reward_not_found")
    assert_problem(await world.api.post("/v1/me/rewards/999999999/transfer", headers=w["a"]), 404, "reward_not_found")

    await world.run_due_jobs()
    assert (await transfer(world, first, w["a"]))["status"] == "wait_user_confirm"
    await finish_transfer(world, first, "cancelled")  # not confirmed within 24 hours: WeChat takes the money back
    [returned] = await my_rewards(world, w["a"])
    assert (returned["status"], returned["transferId"], returned["owedReason"]) == ("owed", None, "transferable")

    # Asked again, at once, with one Idempotency-Key and without: one new transfer, which every answer names.
    keyed = {**w["a"], "Idempotency-Key": "reward-again"}
    answers = await asyncio.gather(*(world.api.post(url, headers=h) for h in [w["a"]] * 4 + [keyed] * 3))
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    made = [a for a in answers if a.status_code == 201 and "idempotent-replayed" not in a.headers]
    assert len(made) == 1 and made[0].json()["status"] == "pending" and made[0].json()["amountFen"] == 50
    second = made[0].json()["id"]
    assert {a.json()["id"] for a in answers} == {second} and second != first
    promised = "SELECT count(*) FROM transfers WHERE purpose = 'reward' AND payee_user_id = $1"
    assert await world.pool.fetchval(promised, w["a_id"]) == 2
    [again] = await my_rewards(world, w["a"])
    assert (again["transferId"], again["owedReason"]) == (second, "transfer_open")

    # The member confirms it with wx.requestMerchantTransfer: paid once, told once, booked once.
    await world.run_due_jobs()
    confirm = await transfer(world, second, w["a"])
    assert confirm["status"] == "wait_user_confirm" and confirm["packageInfo"] and confirm["mchId"]
    await finish_transfer(world, second, "success")
    sent = await world.control.get("/sandbox/pay/notifications")
    out_bill_no = await world.pool.fetchval("SELECT out_bill_no FROM transfers WHERE id = $1", int(second))
    [success] = [n for n in sent.json() if n["kind"] == "transfer" and n["reference"] == out_bill_no]
    replayed = await world.control.post(f"/sandbox/pay/notifications/{success['id']}/replay", json={})
    assert replayed.json()["deliveredStatus"] == 204
    [paid] = await my_rewards(world, w["a"])
    assert (paid["status"], paid["transferId"], paid["owedReason"]) == ("paid", second, None)
    assert_problem(await world.api.post(url, headers=w["a"]), 409, "reward_already_paid")
    assert [n["data"]["amountFen"] for n in await notices(world.api, w["a"], "reward_paid")] == ["50"]
    assert await transfer_ledger(world) == [(int(second), 50)]
    assert await world.ledger_violations() == []


async def test_small_rewards_are_paid_together_once_they_reach_the_minimum(world):
    # Found in review: a reward under 0.1 yuan, WeChat's minimum transfer, got no transfer and stayed owed for good.
    w = await rewarded_world(world)
    await commit_pool(world, w["small"], 6, w["day"])
    [six] = await my_rewards(world, w["b"])
    assert (six["amountFen"], six["status"], six["transferId"], six["owedReason"]) == (6, "owed", None, "below_minimum")
    refused = assert_problem(
        await world.api.post(f"/v1/me/rewards/{six['id']}/transfer", headers=w["b"]), 409, "reward_below_minimum"
    )
    assert "0.1 元" in refused["userMessage"]

    # The next pool brings B's small rewards of the community to 11 fen: one transfer carries both.
    await commit_pool(world, w["small"], 5, w["day"])
    five, six = await my_rewards(world, w["b"])
    assert (five["amountFen"], six["amountFen"]) == (5, 6)
    together = five["transferId"]
    assert together and six["transferId"] == together
    assert {five["owedReason"], six["owedReason"]} == {"transfer_open"}
    assert (await transfer(world, together, w["b"]))["amountFen"] == 11

    # It fails (the member refused it): both are owed again, and asking for either, at once, sends both again once.
    await world.run_due_jobs()
    await finish_transfer(world, together, "fail")
    assert {(r["transferId"], r["owedReason"]) for r in await my_rewards(world, w["b"])} == {(None, "transferable")}
    asked = await asyncio.gather(
        *(world.api.post(f"/v1/me/rewards/{r['id']}/transfer", headers=w["b"]) for r in (five, six, five, six))
    )
    assert sorted(a.status_code for a in asked) == [200, 200, 200, 201], [a.text for a in asked]
    again = asked[0].json()["id"]
    assert {(a.json()["id"], a.json()["amountFen"]) for a in asked} == {(again, 11)}
    await world.run_due_jobs()
    await finish_transfer(world, again, "success")
    assert {(r["status"], r["transferId"]) for r in await my_rewards(world, w["b"])} == {("paid", again)}
    assert [n["data"]["amountFen"] for n in await notices(world.api, w["b"], "reward_paid")] == ["11"]
    assert await transfer_ledger(world) == [(int(again), 11)]

    # What is paid counts no more: a new small reward waits alone.
    await commit_pool(world, w["small"], 3, w["day"])
    newest = (await my_rewards(world, w["b"]))[0]
    assert (newest["amountFen"], newest["transferId"], newest["owedReason"]) == (3, None, "below_minimum")
    assert await world.ledger_violations() == []
