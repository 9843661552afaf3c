"""WeChat's customer-service message push, signed (and in safe mode encrypted) with wechatpy exactly as
WeChat does: valid pushes are stored once and answered `success` at once; forged or stale ones are refused;
the job answers through the customer-service send API with the rules of the customer-service community."""

from __future__ import annotations

import json
import secrets
import time
from datetime import timedelta

import msgspec
import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from service.core.messaging import wechat_of
from service.robots.jobs import JOBS
from service.robots.logic import FORGET_SEALS_KIND, answer_customer_message
from service.wechat.errors import WeChatUnavailable
from tests.world import assert_problem

TOKEN = "sandbox-message-token"
AES_KEY = "c2FuZGJveC1tZXNzYWdlLXB1c2gtYWVzLWtleS0zMmI"
APPID = "wxsandbox0000000001"


def signed(token: str = TOKEN, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """A fresh query string as WeChat signs one push (its own nonce: a signed query is good for one body)."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or secrets.token_hex(8)
    signer = WeChatSigner()
    signer.add_data(token, ts, nonce)
    return {"signature": signer.signature, "timestamp": ts, "nonce": nonce}


def text_xml(openid: str, content: str, msg_id: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_sandbox]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def encrypted(xml: str, key: str = AES_KEY, appid: str = APPID) -> tuple[dict[str, str], str]:
    params = signed()
    sealed = WeChatCrypto(TOKEN, key, appid).encrypt_message(xml, params["nonce"], params["timestamp"])
    fields = xmltodict.parse(sealed)["xml"]
    body = (
        f"<xml><ToUserName><![CDATA[gh_sandbox]]></ToUserName><Encrypt><![CDATA[{fields['Encrypt']}]]></Encrypt></xml>"
    )
    return {**params, "encrypt_type": "aes", "msg_signature": fields["MsgSignature"]}, body


async def push(world, params: dict, body: str):
    return await world.client.post("/v1/wechat/messages", params=params, content=body.encode())


async def test_server_verification(world):
    ok = await world.client.get("/v1/wechat/messages", params={**signed(), "echostr": "hello-wechat"})
    assert ok.status_code == 200 and ok.text == "hello-wechat"
    forged = await world.client.get("/v1/wechat/messages", params={**signed("not-our-token"), "echostr": "x"})
    assert_problem(forged, 403, "invalid_signature")
    assert_problem(await world.client.get("/v1/wechat/messages", params={"echostr": "x"}), 403, "invalid_signature")


async def test_plain_and_safe_mode_pushes_are_stored_once(world, db):
    alice = await world.member("alice")
    answer = await push(world, signed(), text_xml(alice.openid, "价格多少", 1001))
    assert answer.status_code == 200 and answer.text == "success"
    assert (await push(world, signed(), text_xml(alice.openid, "价格多少", 1001))).text == "success"  # WeChat's retry
    params, body = encrypted(text_xml(alice.openid, "safe mode hello", 1002))
    assert (await push(world, params, body)).text == "success"
    json_body = json.dumps(
        {
            "ToUserName": "gh",
            "FromUserName": alice.openid,
            "CreateTime": 1,
            "MsgType": "text",
            "Content": "json mode",
            "MsgId": 1003,
        }
    )
    assert (await push(world, signed(), json_body)).text == "success"
    event = f"<xml><FromUserName>{alice.openid}</FromUserName><MsgType>event</MsgType><CreateTime>5</CreateTime></xml>"
    assert (await push(world, signed(), event)).text == "success"
    assert (await push(world, signed(), "not xml at all")).text == "success"  # unreadable: dropped, not retried
    rows = await db.fetch("SELECT msg_key, msg_type, content FROM wechat_messages ORDER BY id")
    assert [tuple(r) for r in rows][:3] == [
        ("1001", "text", "价格多少"),
        ("1002", "text", "safe mode hello"),
        ("1003", "text", "json mode"),
    ]
    assert rows[3]["msg_type"] == "event"
    assert await db.fetchval("SELECT count(*) FROM jobs WHERE kind = 'robots.customer_reply'") == 3


async def test_a_push_that_cannot_be_stored_in_time_is_refused_fast_and_the_retry_stores_it(world, db):
    alice = await world.member("alice")
    async with db.transaction():  # a stuck database: the message table is locked past the push budget
        await db.execute("LOCK TABLE wechat_messages IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        refused = await push(world, signed(), text_xml(alice.openid, "价格多少", 2001))
        waited = time.monotonic() - started
    assert_problem(refused, 503, "not_ready")
    assert waited < 5  # inside WeChat's 5 seconds, so WeChat pushes again instead of giving up
    assert (await push(world, signed(), text_xml(alice.openid, "价格多少", 2001))).text == "success"
    assert await db.fetchval("SELECT count(*) FROM wechat_messages WHERE msg_key = '2001'") == 1


async def test_forged_pushes_are_refused(world, db):
    alice = await world.member("alice")
    xml = text_xml(alice.openid, "hi", 2001)
    assert_problem(await push(world, signed("guessed-token"), xml), 403, "invalid_signature")
    assert_problem(await push(world, signed(timestamp=int(time.time()) - 3600), xml), 403, "invalid_signature")
    assert_problem(await push(world, {}, xml), 403, "invalid_signature")
    params, body = encrypted(xml, key="a" * 43)  # sealed with another key: msg_signature fits, decryption fails
    assert_problem(await push(world, params, body), 403, "invalid_signature")
    params, body = encrypted(xml, appid="wxsomeoneelse00000")
    assert_problem(await push(world, params, body), 403, "invalid_signature")
    params, body = encrypted(xml)
    assert_problem(await push(world, {**params, "msg_signature": "0" * 40}, body), 403, "invalid_signature")
    assert await db.fetchval("SELECT count(*) FROM wechat_messages") == 0


async def test_a_signed_query_is_good_for_one_body_only(world, db):
    """Plain mode signs token, timestamp and nonce, never the body: whoever saw one signed push URL must not send
    another body under it within the 5 minutes (a verdict releasing a held photo, a message as another member).
    WeChat's retry of an unanswered push, the same query with the same body, is answered as before."""
    alice, bob = await world.member("alice"), await world.member("bob")
    params = signed()
    first = text_xml(alice.openid, "价格多少", 3001)
    assert (await push(world, params, first)).text == "success"
    assert (await push(world, params, first)).text == "success"  # WeChat's retry: the same query, the same body
    as_bob = await push(world, params, text_xml(bob.openid, "退款", 3002))
    assert_problem(as_bob, 403, "invalid_signature")
    verdict = {"MsgType": "event", "Event": "wxa_media_check", "FromUserName": "o", "CreateTime": 1, "trace_id": "t"}
    verdict |= {"errcode": 0, "result": {"suggest": "pass", "label": 100}}
    assert_problem(await push(world, params, json.dumps(verdict)), 403, "invalid_signature")
    rows = await db.fetch("SELECT msg_key, openid FROM wechat_messages ORDER BY id")
    assert [tuple(row) for row in rows] == [("3001", alice.openid)]
    assert await db.fetchval("SELECT count(*) FROM jobs WHERE kind = 'robots.customer_reply'") == 1
    # Another query (WeChat signs every push afresh) carries another body as before.
    assert (await push(world, signed(), text_xml(bob.openid, "退款", 3002))).text == "success"


async def test_seals_are_forgotten_once_their_query_is_stale(world, db, jobs):
    alice = await world.member("alice")
    old, fresh = signed(timestamp=int(time.time()) - 200), signed()
    assert (await push(world, old, text_xml(alice.openid, "早", 3101))).text == "success"
    assert (await push(world, fresh, text_xml(alice.openid, "晚", 3102))).text == "success"
    kept = await db.fetch("SELECT signature, expires_at - now() AS left FROM wechat_push_seals ORDER BY expires_at")
    assert [row["signature"] for row in kept] == [old["signature"], fresh["signature"]]
    assert kept[0]["left"] > timedelta(seconds=100)  # kept while WeChat's 5 minutes let the query in
    # The clock moves past the first query's window: the worker's periodic job forgets its seal, not the other's.
    await db.execute(
        "UPDATE wechat_push_seals SET expires_at = now() - interval '1 second' WHERE signature = $1", old["signature"]
    )
    await JOBS.handlers[FORGET_SEALS_KIND](jobs, {})
    assert await db.fetchval("SELECT array_agg(signature) FROM wechat_push_seals") == [fresh["signature"]]
    assert FORGET_SEALS_KIND in JOBS.periodic


async def test_the_robot_answers_through_customer_service(world, db, jobs):
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice)
    body = {"keyword": "价格", "reply": "价格请看小程序首页", "cooldownSeconds": 3600}
    assert (
        await world.client.post(f"/v1/communities/{cid}/robot-rules", json=body, headers=alice.headers)
    ).status_code == 201
    for msg_id, who, text in ((1, bob, "价格？"), (2, bob, "价格呢？"), (3, alice, "问下价格"), (4, bob, "你好")):
        await push(world, signed(), text_xml(who.openid, text, msg_id))
    settings = msgspec.structs.replace(jobs.settings, customer_service_community_id=int(cid))
    wechat = wechat_of(jobs)
    ids = [row["id"] for row in await db.fetch("SELECT id FROM wechat_messages ORDER BY id")]
    results = [await answer_customer_message(jobs.pool, settings, wechat, message_id) for message_id in ids]
    assert results == ["replied", "no_match", "replied", "no_match"]  # the second: bob's cooldown
    assert await answer_customer_message(jobs.pool, settings, wechat, ids[0]) == "replied"  # idempotent
    sent = (await world.sandbox.control("GET", "/sandbox/messages/custom"))["items"]
    assert [(m["openid"], m["message"]["text"]["content"]) for m in sent] == [
        (bob.openid, "价格请看小程序首页"),
        (alice.openid, "价格请看小程序首页"),
    ]
    assert await db.fetchval("SELECT count(*) FROM robot_replies WHERE channel = 'customer_service'") == 2
    # No customer-service community configured: nothing is answered.
    await push(world, signed(), text_xml(bob.openid, "价格", 9))
    last = await db.fetchval("SELECT max(id) FROM wechat_messages")
    assert await answer_customer_message(jobs.pool, jobs.settings, wechat, last) == "no_match"


async def test_a_retried_reply_whose_rule_was_deleted_meanwhile_sends_nothing(world, db, jobs):
    """WeChat unavailable at the first send: the job is retried with the rule it chose. Deleted (or switched off)
    since, the rule answers no more: no reply, and the message ends as no match (it crashed on the missing rule)."""
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice)
    body = {"keyword": "价格", "reply": "价格请看小程序首页"}
    made = await world.client.post(f"/v1/communities/{cid}/robot-rules", json=body, headers=alice.headers)
    assert made.status_code == 201, made.text
    await push(world, signed(), text_xml(bob.openid, "价格？", 21))
    settings = msgspec.structs.replace(jobs.settings, customer_service_community_id=int(cid))
    wechat = wechat_of(jobs)
    message_id = await db.fetchval("SELECT max(id) FROM wechat_messages")
    await world.sandbox.fault("busy")
    try:
        with pytest.raises(WeChatUnavailable):
            await answer_customer_message(jobs.pool, settings, wechat, message_id)
    finally:
        await world.sandbox.control("DELETE", "/sandbox/faults")
    deleted = await world.client.delete(f"/v1/robot-rules/{made.json()['id']}", headers=alice.headers)
    assert deleted.status_code == 204, deleted.text
    assert await answer_customer_message(jobs.pool, settings, wechat, message_id) == "no_match"
    assert (await world.sandbox.control("GET", "/sandbox/messages/custom"))["items"] == []
    assert await db.fetchval("SELECT count(*) FROM robot_replies WHERE channel = 'customer_service'") == 0
