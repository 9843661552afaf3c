"""The API as a mini program reaches it: through a strict `wx` (tests/client/wx.cjs) that refuses what WeChat
refuses (no PATCH, no Referer, 10 requests in flight, upload answers as strings, payment fields as strings, at
most 5 sockets)."""

from __future__ import annotations

import asyncio
import json
import re

from service.app import create_app
from tests.scenario import Factory
from tests.seed import local_window
from tests.support import KIT, ROOT, http_client, make_settings, serve
from tests.wechat_support import login

CLIENT = ROOT / "tests" / "client"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


async def node(script: str, *args: str, timeout: float = 120, flags: tuple[str, ...] = ()) -> dict:
    process = await asyncio.create_subprocess_exec(
        "node", *flags, str(CLIENT / script), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=timeout)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


async def test_the_strict_wx_refuses_what_wechat_refuses(settings, sandbox):
    async with serve(create_app(settings)) as api:
        seen = await node("wx_checks.cjs", api, sandbox.url)
    assert seen["patch"] == "request:fail method is invalid"
    assert seen["referer"].startswith("request:fail invalid header")
    assert seen["inFlight"][:10] == [200] * 10
    assert seen["inFlight"][10] == "request:fail exceed max task count"
    assert (seen["json"], seen["text"]) == ("object", "string")
    assert seen["upload"]["type"] == "string" and seen["upload"]["status"] >= 400
    assert seen["paymentNumber"] == "requestPayment:fail parameter error: timeStamp"
    assert seen["paymentMd5"] == "requestPayment:fail signType must be RSA"
    assert seen["storage"] == [{"a": 1}, ""]


async def test_every_operation_of_the_spec_goes_through_wx_request(settings, sandbox):
    spec = json.loads((KIT / "openapi.json").read_text())
    count = sum(1 for item in spec["paths"].values() for method in item if method != "parameters")
    async with serve(create_app(settings)) as api:
        seen = await node("every_operation.cjs", str(KIT / "openapi.json"), api, sandbox.url, timeout=300)
    assert seen["operations"] == count > 100
    assert seen["refused"] == []
    # Signed in with made-up ids and empty bodies: refusals with codes, never a server error.
    assert {where: status for where, status in seen["answers"].items() if status >= 500} == {}
    assert {status for status in seen["answers"].values()} >= {200, 400, 404}


async def test_the_live_socket_through_wx_connect_socket(settings, sandbox):
    """wx.connectSocket with the token in its header: JSON texts both ways, at most 5 sockets, a bad token refused
    (node 20 has WebSocket behind a flag)."""
    async with serve(create_app(settings)) as api:
        seen = await node("live_socket.cjs", api, sandbox.url, flags=("--experimental-websocket",))
    assert seen["ready"] and seen["post"]
    assert (seen["online"], seen["since"], seen["types"]) == (1, 0, ["string"])
    assert seen["sixth"] == "connectSocket:fail exceed max task count"
    assert seen["badUrl"] == "connectSocket:fail invalid url"
    assert (seen["refused"], seen["closed"]) == ("connectSocket:fail", 1000)


async def test_trial_places_for_points_through_wx_request(database_url, sandbox):
    """The trial-points operations with real ids (every_operation.cjs reaches them only with made-up ones): the
    owner's offer (PUT, DELETE), a member's redemption (POST, with and without an Idempotency-Key), the balance
    (GET with the brand id in wx's `data`); ids as strings, refusals with their code and a Chinese `userMessage`."""
    settings = make_settings(database_url, wechat_api_base=sandbox.url, newcomer_hours=0)
    async with serve(create_app(settings)) as api:
        seen = await node("trial_points.cjs", api, sandbox.url, json.dumps(local_window()))
    assert seen["methods"] == ["DELETE", "GET", "POST", "PUT"]
    assert seen["setup"] == {"attached": 200, "checkIn": 201, "points": 30}
    assert seen["offer"] == {
        "status": 200,
        "body": {"price": 30, "places": 2, "placesLeft": 2, "redeemableUntil": None},
    }
    assert seen["closed"] == 200
    brand_id = seen["before"]["body"]["brandId"]
    assert isinstance(brand_id, str) and brand_id.isdigit()
    assert seen["before"] == {
        "status": 200,
        "body": {"brandId": brand_id, "spendable": True, "earned": 30, "spent": 0, "available": 30},
    }
    assert seen["redeemed"] == {
        "status": 201,
        "reason": "redeemed",
        "position": 1,
        "types": ["string", "string", "string"],
        "ownPoll": True,
        "replayed": {"status": 201, "same": True, "header": "true"},
    }
    assert seen["after"] == {"brandId": brand_id, "spendable": True, "earned": 30, "spent": 30, "available": 0}
    assert seen["placesLeft"] == 1
    assert seen["withdrawn"] == {"status": 204, "body": ""}
    assert seen["withdrawnOffer"] is None
    assert seen["mine"] == [[seen["trialId"], "redeemed"]]
    refusals = {
        "memberOffers": (403, "forbidden"),
        "early": (409, "trial_redemption_closed"),
        "again": (409, "trial_already_held"),
        "poor": (409, "not_enough_points"),
        "badBrand": (400, "validation_failed"),
        "noBrand": (404, "not_found"),
        "noOffer": (409, "no_points_offer"),
    }
    assert {name: (seen[name]["status"], seen[name]["code"]) for name in refusals} == refusals
    for name in refusals:
        assert CHINESE.search(seen[name]["userMessage"]), (name, seen[name])
    assert seen["poor"]["userMessage"] == "积分不足，多参加打卡活动攒积分吧。"


async def owed_rewards(database_url: str, settings, ann: int, bob: int) -> dict[str, int]:
    """Rewards of two committed pools in one community: Ann's 30 fen paid and 50 fen owed with no transfer (its
    transfer was returned), Bob's 6 fen owed (under WeChat's 0.1 yuan minimum)."""
    f = await Factory.connect(database_url, settings)
    try:
        community = await f.community("奖励群", owner=ann)
        pool = (
            "INSERT INTO reward_pools (amount_fen, window_from, window_to, status, created_by) "
            "VALUES ($1, current_date - 9, current_date - 2, 'committed', 'operator') RETURNING id"
        )
        first, second = [await f.conn.fetchval(pool, fen) for fen in (36, 50)]
        reward = (
            "INSERT INTO reward_allocations (pool_id, community_id, user_id, amount_fen, basis, status) "
            "VALUES ($1, $2, $3, $4, 1, $5) RETURNING id"
        )
        return {
            "paid": await f.conn.fetchval(reward, first, community, ann, 30, "paid"),
            "small": await f.conn.fetchval(reward, first, community, bob, 6, "owed"),
            "owed": await f.conn.fetchval(reward, second, community, ann, 50, "owed"),
        }
    finally:
        await f.close()


async def test_an_owed_reward_is_asked_for_again_through_wx_request(settings, database_url, sandbox):
    """POST /v1/me/rewards/{id}/transfer with real ids (every_operation.cjs reaches it only with a made-up one): the
    member asks for the reward the list shows transferable and gets a new transfer (201; again, the open one: 200),
    which the list then names; refusals with their code and a Chinese `userMessage`."""
    async with serve(create_app(settings)) as api:
        async with http_client(base_url=api, timeout=10) as http:
            ann, bob = [int((await login(http, sandbox.url, name))["user"]["id"]) for name in ("ann", "bob")]
        rewards = await owed_rewards(database_url, settings, ann, bob)
        seen = await node("rewards.cjs", api, sandbox.url)
    owed, paid = str(rewards["owed"]), str(rewards["paid"])
    assert seen["before"] == [
        {"id": owed, "amountFen": 50, "status": "owed", "transferId": None, "owedReason": "transferable"},
        {"id": paid, "amountFen": 30, "status": "paid", "transferId": None, "owedReason": None},
    ]
    assert seen["asked"] == {
        "status": 201,
        "types": ["string", "number"],
        "amountFen": 50,
        "transferStatus": "pending",
        "replayed": {"status": 201, "same": True, "header": "true"},
        "again": {"status": 200, "same": True},
    }
    assert seen["followed"] == {"status": 200, "same": True, "amountFen": 50}
    assert seen["after"] == {
        "id": owed,
        "amountFen": 50,
        "status": "owed",
        "transferId": seen["transferId"],
        "owedReason": "transfer_open",
    }
    refusals = {
        "alreadyPaid": (409, "reward_already_paid"),
        "notMine": (404, "reward_not_found"),
        "belowMinimum": (409, "reward_below_minimum"),
        "unknown": (404, "reward_not_found"),
        "badId": (400, "validation_failed"),
    }
    assert {name: (seen[name]["status"], seen[name]["code"]) for name in refusals} == refusals
    for name in refusals:
        assert CHINESE.search(seen[name]["userMessage"]), (name, seen[name])
