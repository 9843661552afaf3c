"""CSV downloads over real HTTP for a brand's team and a community's admins: members, orders and refunds, metrics by
day and reward allocations, with Chinese intact behind a BOM, streamed, bounded with a clear 4xx, and each
download recorded."""

from __future__ import annotations

import csv
import io

from service.core import exports
from service.core.tokens import issue_access_token
from tests.brands.test_brand_pools import brand_with_activity, call
from tests.checkout.conftest import sandbox, sandbox_keys, sandbox_url, test_purpose, wechat_url, world  # noqa: F401 - the checkout world
from tests.checkout.test_paid_entry import paid_community, run_refund_jobs
from tests.world import assert_problem


async def download(world, path: str, auth: dict, **params) -> list[list[str]]:  # noqa: F811
    response = await world.api.get(path, params=params, headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["transfer-encoding"] == "chunked"  # streamed, not one body of known length
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


async def test_brand_and_community_csv_open_with_the_right_columns_and_chinese_intact(world, monkeypatch):  # noqa: F811
    b = await brand_with_activity(world)
    brand, owner, admin = b["brand"], b["owner"], b["admin"]
    # Money: a paid community of the brand, one payment refunded by its payer.
    paid = (await paid_community(world, owner, price_fen=800, name="付费跑团"))["id"]
    await call(world, "POST", f"/v1/brands/{brand}/communities", owner, json={"communityId": paid})
    payer_id, payer = await world.user()
    order = (await call(world, "POST", f"/v1/communities/{paid}/join", payer, 201))["order"]
    await world.pay_order(order)
    await call(world, "POST", f"/v1/orders/{order['id']}/refund", payer, 201, json={"reason": "临时有事"})
    await run_refund_jobs(world)
    # Rewards: a brand pool paid and committed.
    body = {"amountFen": 3000, "start": b["day"], "end": b["day"]}
    pool = await call(world, "POST", f"/v1/brands/{brand}/reward-pools", owner, 201, json=body)
    await world.pay_order(pool["order"])
    await call(world, "POST", f"/v1/brands/{brand}/reward-pools/{pool['id']}/commit", owner)

    base = f"/v1/brands/{brand}/export"
    members = await download(world, base, admin, report="members")  # a brand admin downloads too
    assert members[0] == ["社群ID", "社群", "用户ID", "昵称", "角色", "加入方式", "加入时间", "已自我介绍"]
    assert {row[1] for row in members[1:]} == {"跑团 1群", "跑团 2群", "付费跑团"}  # not the unbranded community
    assert all(row[3].startswith("成员") for row in members[1:] if row[4] == "member" and row[1] != "付费跑团")

    window = {"from": b["day"], "to": b["day"]}
    money = await download(world, base, owner, report="orders", **{"from": b["day"]})
    assert money[0][:4] == ["类型", "单号", "订单ID", "社群ID"] and money[0][-1] == "已退款（分）"
    kinds = [(row[0], row[2], row[6]) for row in money[1:]]
    assert kinds == [("订单", order["id"], "800"), ("退款", order["id"], "800")]  # the pool's payment is the brand's
    assert money[2][9] == "临时有事" and money[1][5] == str(payer_id)

    rewards = await download(world, base, owner, report="rewards", **{"from": b["day"]})
    assert rewards[0][:3] == ["奖励池ID", "出资方", "品牌ID"]
    assert {row[1] for row in rewards[1:]} == {"品牌"} and {row[0] for row in rewards[1:]} == {pool["id"]}
    assert sum(int(row[7]) for row in rewards[1:]) == 3000

    metrics = await download(world, base, owner, report="metrics", **window)
    assert metrics[0][:4] == ["日期", "社群ID", "社群", "发言人数"] and metrics[0][-1] == "活跃度"
    assert len(metrics) == 1 + 3  # one day, three communities
    by_name = {row[2]: row for row in metrics[1:]}
    assert set(by_name) == {"跑团 1群", "跑团 2群", "付费跑团"}
    assert float(by_name["跑团 1群"][-1]) > 0 and float(by_name["付费跑团"][-1]) == 0

    # One community: its admins, and the brand's team; a member and another community's admin are refused.
    (c1,) = [cid for cid in b["communities"] if by_name["跑团 1群"][1] == cid]
    community = f"/v1/communities/{c1}/export"
    mine = await download(world, community, owner, report="metrics", **window)
    assert mine[1][:3] == [b["day"], c1, "跑团 1群"] and len(mine) == 2
    assert {row[1] for row in (await download(world, community, admin))[1:]} == {"跑团 1群"}  # members by default
    member = await world.pool.fetchval(
        "SELECT user_id FROM memberships WHERE community_id = $1 AND role = 'member' LIMIT 1", int(c1)
    )
    plain = {"Authorization": f"Bearer {issue_access_token(world.settings, member)}"}
    assert_problem(await world.api.get(community, headers=plain), 403, "forbidden")
    other_admin = {"Authorization": f"Bearer {issue_access_token(world.settings, b['other_owner_id'])}"}
    assert_problem(await world.api.get(community, headers=other_admin), 403, "not_member")
    assert_problem(await world.api.get(base, headers=other_admin), 403, "forbidden")
    assert (await world.api.get(f"/v1/communities/{b['other']}/export", headers=other_admin)).status_code == 200

    # Bounds: a clear 4xx before the first byte, never a cut file.
    too_long = await world.api.get(base, params={"report": "orders", "from": "2025-01-01", "to": "2026-02-01"},
                                   headers=owner)  # fmt: skip
    assert_problem(too_long, 400, "export_window_too_long")
    backwards = await world.api.get(community, params={"report": "metrics", "from": b["day"], "to": "2020-01-01"},
                                    headers=owner)  # fmt: skip
    assert_problem(backwards, 400, "export_window_too_long")
    monkeypatch.setattr(exports, "MAX_ROWS", 2)
    assert_problem(await world.api.get(base, params={"report": "members"}, headers=owner), 422, "export_too_large")
    monkeypatch.undo()

    # Every download recorded: who, which, the window, how many rows.
    logged = await world.pool.fetch(
        "SELECT user_id, report, row_count, window_from::text FROM brand_exports WHERE brand_id = $1 ORDER BY id",
        int(brand),
    )
    assert [(r["report"], r["row_count"]) for r in logged] == [
        ("members", len(members) - 1),
        ("orders", 2),
        ("rewards", len(rewards) - 1),
        ("metrics", 3),
    ]
    assert logged[0]["window_from"] is None and logged[3]["window_from"] == b["day"]
    audit = await world.pool.fetch(
        "SELECT actor_id, details FROM community_audit_log WHERE community_id = $1 AND action = 'export.csv' "
        "ORDER BY id",
        int(c1),
    )
    assert [(a["details"]["report"], a["details"]["rows"]) for a in audit] == [("metrics", 1), ("members", 4)]
    assert audit[0]["details"]["from"] == b["day"] and audit[0]["actor_id"] == b["owner_id"]


async def test_a_window_at_the_ends_of_the_calendar_is_400_naming_the_day(world):  # noqa: F811
    _, owner = await world.user()
    brand = (await call(world, "POST", "/v1/brands", owner, 201, json={"name": "山野跑团", "defaults": {}}))["id"]
    cid = (await call(world, "POST", "/v1/communities", owner, 201, json={"name": "跑团 1群"}))["id"]
    await call(world, "POST", f"/v1/brands/{brand}/communities", owner, json={"communityId": cid})
    community, base = f"/v1/communities/{cid}/export", f"/v1/brands/{brand}/export"
    # Year 1 and 9999 overflowed the window's arithmetic (a 500): days outside 2000-2999 are refused by name.
    for path, params, fields in (
        (community, {"report": "metrics", "to": "0001-01-05"}, {"to"}),
        (community, {"report": "orders", "from": "9999-12-01", "to": "9999-12-31"}, {"from", "to"}),
        (base, {"report": "orders", "from": "9999-12-01", "to": "9999-12-31"}, {"from", "to"}),
        (base, {"report": "members", "from": "1999-12-31"}, {"from"}),
    ):
        refused = assert_problem(await world.api.get(path, params=params, headers=owner), 400, "validation_failed")
        assert {e["field"] for e in refused["errors"]} == fields, refused
    # The range's own ends are fine; the default window (30 days to `to`) starts no earlier than the range (it began
    # in 1999, and the metrics report then broke off the file it had begun: an incomplete download).
    for path, params in (
        (community, {"report": "metrics", "from": "2000-01-01", "to": "2000-01-05"}),
        (community, {"report": "metrics", "to": "2000-01-05"}),
        (base, {"report": "metrics", "to": "2000-01-05"}),
        (base, {"report": "orders", "from": "2999-12-01", "to": "2999-12-31"}),
    ):
        assert len(await download(world, path, owner, **params)) == 1 + (5 if params["report"] == "metrics" else 0)
