"""Paid entry to a series over real HTTP, through the Pay sandbox: the payment buys entry to the series (a sister
with room, opened when all are full), every payment is admitted or refunded, and the ledger balances."""

from __future__ import annotations

import asyncio
import random

from tests.checkout.conftest import sandbox, sandbox_keys, sandbox_url, test_purpose, world  # noqa: F401 - the checkout world
from tests.checkout.test_paid_entry import paid_community, run_refund_jobs


async def call(w, method: str, url: str, auth: dict, expect: int = 200, **kw) -> dict:
    response = await w.api.request(method, url, headers=auth, **kw)
    assert response.status_code == expect, response.text
    return response.json()


async def test_concurrent_paid_joins_fill_sisters_and_a_second_sister_is_refunded(world):  # noqa: F811
    _, owner = await world.user()
    brand = await call(world, "POST", "/v1/brands", owner, 201, json={"name": "山野跑团"})
    cid = (await paid_community(world, owner, price_fen=500, memberCap=3, name="跑团 1群"))["id"]
    await call(world, "POST", f"/v1/brands/{brand['id']}/communities", owner, json={"communityId": cid})
    body = {"communityId": cid, "name": "跑团"}
    series_id = (await call(world, "POST", f"/v1/brands/{brand['id']}/series", owner, 201, json=body))["id"]

    payers = [await world.user() for _ in range(12)]
    answers = await asyncio.gather(*(world.api.post(f"/v1/communities/{cid}/join", headers=a) for _, a in payers))
    assert {a.status_code for a in answers} == {201}, {a.text for a in answers if a.status_code != 201}
    orders = [a.json()["order"] for a in answers]
    random.shuffle(orders)  # in whatever order WeChat sends the payments
    paid = await asyncio.gather(*(world.pay_order(order) for order in orders))
    assert {p["deliveredStatus"] for p in paid} == {204}

    series = await call(world, "GET", f"/v1/series/{series_id}", owner)
    assert [(s["name"], s["memberCount"]) for s in series["sisters"]] == [(f"跑团 {n}群", 3) for n in range(1, 7)]
    homes = {}
    for user_id, auth in payers:
        mine = (await call(world, "GET", f"/v1/series/{series_id}", auth))["myCommunityId"]
        homes[user_id] = mine
    assert None not in homes.values() and len(homes) == 12
    assert await world.pool.fetchval("SELECT count(*) FROM orders WHERE status = 'paid'") == 12

    # A member of one sister who pays for another is refunded in full: one sister per series.
    user_id, auth = payers[0]
    elsewhere = next(s["id"] for s in series["sisters"] if s["id"] != homes[user_id])
    order = (await call(world, "POST", f"/v1/communities/{elsewhere}/join", auth, 201))["order"]
    assert (await world.pay_order(order))["deliveredStatus"] == 204
    await run_refund_jobs(world)
    async with asyncio.timeout(20):
        while (await world.get_order(order["id"], auth))["status"] != "refunded":
            await asyncio.sleep(0.05)
    seen = await world.get_order(order["id"], auth)
    assert seen["refunds"][0]["reason"].startswith("already_in_series")
    assert (await call(world, "GET", f"/v1/series/{series_id}", auth))["myCommunityId"] == homes[user_id]
    assert await world.pool.fetchval("SELECT count(*) FROM ledger_entries WHERE kind = 'payment'") == 13
    assert await world.pool.fetchval("SELECT count(*) FROM ledger_entries WHERE kind = 'refund'") == 1
    assert await world.ledger_violations() == []
