"""Paying for community apps (docs/operating.md, Community apps): a payment that can no longer buy anything is
refunded in full with its reason (the payer no longer the owner, the app already bought for good); one made
after the operator made the app free still buys what its order quoted; each monthly payment adds exactly one
month, from the later of now and the end of the paid period, however its notifications arrive."""

from __future__ import annotations

import asyncio

import pytest

from service.core import money as checkout
from tests.operating.conftest import OPERATOR_KEY
from tests.world import Member

OPERATOR = {"X-Operator-Key": OPERATOR_KEY}
ONE_OFF = {"billing": "one_off", "priceFen": 5000}
MONTHLY = {"billing": "monthly", "priceFen": 1990}
# $1 is one month from now (the moment a payment was applied, a few seconds ago at most).
A_MONTH_FROM_NOW = """
SELECT $1::timestamptz BETWEEN now() + interval '1 month' - interval '1 minute' AND now() + interval '1 month'
"""


@pytest.fixture
async def people(world):
    return [await world.member(name) for name in ("alice", "bob")]


async def price(world, app: str, body: dict | None) -> None:
    """The operator prices the app (None: makes it free)."""
    if body is None:
        answer = await world.api.delete(f"/v1/admin/apps/{app}/price", headers=OPERATOR)
    else:
        answer = await world.api.put(f"/v1/admin/apps/{app}/price", json=body, headers=OPERATOR)
    assert answer.status_code in (200, 204), answer.text


async def open_order(world, owner: Member, cid: str, app: str) -> dict:
    answer = await world.api.put(f"/v1/communities/{cid}/apps/{app}", headers=owner.headers)
    assert answer.status_code == 202, answer.text
    return answer.json()["order"]


async def renewal(world, owner: Member, cid: str, app: str) -> dict:
    answer = await world.api.post(f"/v1/communities/{cid}/apps/{app}/renewal", headers=owner.headers)
    assert answer.status_code == 202, answer.text
    return answer.json()["order"]


async def transfer(world, owner: Member, cid: str, to: Member) -> None:
    answer = await world.api.post(
        f"/v1/communities/{cid}/ownership-transfer", json={"userId": str(to.id)}, headers=owner.headers
    )
    assert answer.status_code == 200, answer.text


async def app_row(world, cid: str, app: str):
    query = "SELECT purchased, paid_until FROM community_apps WHERE community_id = $1 AND app = $2"
    return await world.pool.fetchrow(query, int(cid), app)


async def state(world, owner: Member, cid: str, app: str) -> str:
    answer = await world.api.get(f"/v1/communities/{cid}/apps", params={"all": "true"}, headers=owner.headers)
    return {item["app"]: item["state"] for item in answer.json()["items"]}[app]


async def refunds(world, order: dict) -> list[tuple[str, int, str]]:
    """The order's refunds (initiated by, amount, the reason's code), once the worker has sent them."""
    await world.run_due_jobs()
    rows = await world.pool.fetch(
        "SELECT initiated_by, amount_fen, reason FROM refunds WHERE order_id = $1 ORDER BY id", int(order["id"])
    )
    return [(r["initiated_by"], r["amount_fen"], r["reason"].split(":")[0]) for r in rows]


async def status(world, order: dict) -> str:
    return await world.pool.fetchval("SELECT status FROM orders WHERE id = $1", int(order["id"]))


async def books_balance(world) -> None:
    async with world.pool.acquire() as conn:
        assert await checkout.ledger_violations(conn) == []


async def test_a_one_off_app_paid_by_the_old_and_the_new_owner_keeps_one_payment(world, people):
    """The defect: the old owner's order stayed payable after the ownership changed, so both owners paid for the
    one-off app and the second payment bought nothing and was kept. The old owner's payment is refunded in full."""
    alice, bob = people
    cid = await world.community(alice, bob)
    await price(world, "warmup", ONE_OFF)
    old = await open_order(world, alice, cid, "warmup")
    await transfer(world, alice, cid, bob)
    new = await open_order(world, bob, cid, "warmup")
    assert new["id"] != old["id"]

    await world.pay_order(new)
    await world.pay_order(old)  # alice still holds her order's payment parameters
    assert await refunds(world, new) == []
    assert await refunds(world, old) == [("system", 5000, "payer_not_owner")]
    assert await status(world, old) == "refunded"
    assert await world.payer_reads(old) == ["你已不是该社群群主，社群应用费用原路退回"]
    row = await app_row(world, cid, "warmup")
    assert row["purchased"] is True and row["paid_until"] is None
    await books_balance(world)


async def test_a_month_paid_by_someone_no_longer_the_owner_is_refunded_and_buys_nothing(world, people):
    alice, bob = people
    cid = await world.community(alice, bob)
    await price(world, "meetups", MONTHLY)
    order = await open_order(world, alice, cid, "meetups")
    await transfer(world, alice, cid, bob)
    await world.pay_order(order)
    assert await refunds(world, order) == [("system", 1990, "payer_not_owner")]
    assert (await app_row(world, cid, "meetups"))["paid_until"] is None
    assert await state(world, bob, cid, "meetups") == "payment_required"
    await books_balance(world)


@pytest.mark.parametrize("first", [ONE_OFF, MONTHLY], ids=["one_off", "monthly"])
async def test_a_payment_for_an_app_the_community_owns_for_good_is_refunded(world, people, first):
    """The owner's order was opened before the app was bought for good (here by the owner of the meantime): paying
    it buys nothing, one-off or a month, and is refunded in full."""
    alice, bob = people
    cid = await world.community(alice, bob)
    await price(world, "warmup", first)
    stale = await open_order(world, alice, cid, "warmup")
    await transfer(world, alice, cid, bob)
    await price(world, "warmup", ONE_OFF)
    await world.pay_order(await open_order(world, bob, cid, "warmup"))
    await transfer(world, bob, cid, alice)

    await world.pay_order(stale)
    assert await refunds(world, stale) == [("system", first["priceFen"], "app_already_bought")]
    assert await world.payer_reads(stale) == ["该社群已永久拥有此应用，重复付款原路退回"]
    row = await app_row(world, cid, "warmup")
    assert row["purchased"] is True and row["paid_until"] is None
    await books_balance(world)


@pytest.mark.parametrize("billing", [ONE_OFF, MONTHLY], ids=["one_off", "monthly"])
async def test_an_order_paid_after_the_app_was_made_free_buys_what_it_quoted(world, people, billing):
    """Chosen behaviour: the price was shown and accepted, so the payment buys what the order quoted (for good, or a
    month) and is not refunded; it keeps the app on should the operator price it again."""
    alice, _ = people
    cid = await world.community(alice)
    await price(world, "warmup", billing)
    order = await open_order(world, alice, cid, "warmup")
    await price(world, "warmup", None)
    assert await state(world, alice, cid, "warmup") == "enabled"
    await world.pay_order(order)
    assert await refunds(world, order) == []
    assert await status(world, order) == "paid"
    row = await app_row(world, cid, "warmup")
    if billing is ONE_OFF:
        assert row["purchased"] is True and row["paid_until"] is None
    else:
        assert row["purchased"] is False and await world.pool.fetchval(A_MONTH_FROM_NOW, row["paid_until"])
    await price(world, "warmup", MONTHLY)
    assert await state(world, alice, cid, "warmup") == "enabled"
    await books_balance(world)


async def _deliver_at_once(world, *payments: dict) -> None:
    """Each payment's notification replayed several times at once, with the reconciliation job racing them."""
    replays = [
        world.sandbox.control("POST", f"/sandbox/pay/notifications/{paid['notificationId']}/replay", json={})
        for paid in payments
        for _ in range(4)
    ]
    await asyncio.gather(*replays, world.run_due_jobs())


async def test_each_monthly_payment_adds_exactly_one_month_from_the_later_of_now_and_the_end(world, people):
    alice, _ = people
    cid = await world.community(alice)
    await price(world, "meetups", MONTHLY)
    first = await open_order(world, alice, cid, "meetups")
    in_flight = await world.pay_order(first, drop=True)  # paid at WeChat, the notification not yet here
    # While its payment is in flight, asking for another month hands out the same order: never sold twice.
    assert (await renewal(world, alice, cid, "meetups"))["id"] == first["id"]
    await _deliver_at_once(world, in_flight)
    ends = (await app_row(world, cid, "meetups"))["paid_until"]
    assert await world.pool.fetchval(A_MONTH_FROM_NOW, ends)

    # A month ahead, from the end of the paid period; the first payment's duplicates racing it change nothing.
    second = await renewal(world, alice, cid, "meetups")
    assert second["id"] != first["id"]
    await _deliver_at_once(world, await world.pay_order(second, drop=True), in_flight)
    later = (await app_row(world, cid, "meetups"))["paid_until"]
    assert await world.pool.fetchval("SELECT $1::timestamptz + interval '1 month' = $2", ends, later)

    # Ended: a month from now, not from the past end.
    await world.pool.execute("UPDATE community_apps SET paid_until = now() - interval '40 days' WHERE app = 'meetups'")
    third = await open_order(world, alice, cid, "meetups")
    await world.pay_order(third)
    assert await world.pool.fetchval(A_MONTH_FROM_NOW, (await app_row(world, cid, "meetups"))["paid_until"])
    for order in (first, second, third):
        assert await status(world, order) == "paid" and await refunds(world, order) == []
    assert await world.pool.fetchval("SELECT count(*) FROM app_purchases WHERE applied_at IS NOT NULL") == 3
    await books_balance(world)
