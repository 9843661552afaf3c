"""The WeChat client against the sandbox over real HTTP: the shared access token, retries, messages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from service.db.pool import create_pool
from service.settings import Settings
from service.wechat.client import WeChatClient
from service.wechat.errors import WeChatError, WeChatUnavailable
from tests.support import api_client, http_client
from tests.wechat_support import bearer, login
from tests.world import assert_problem


@contextlib.asynccontextmanager
async def wechat_client(settings: Settings) -> AsyncIterator[WeChatClient]:
    """A client as an app instance builds it: its own pool and HTTP client, the shared database."""
    pool = await create_pool(settings)
    try:
        async with http_client(timeout=settings.wechat_timeout) as http:
            yield WeChatClient(http, pool, settings)
    finally:
        await pool.close()


async def bind_phone(api: httpx.AsyncClient, sandbox, tokens: dict, user: str) -> httpx.Response:
    code = await sandbox.phone_code(user)
    return await api.post("/v1/auth/phone", json={"code": code}, headers=bearer(tokens))


# -- the shared access token -------------------------------------------------------------------------------


async def test_two_app_instances_share_one_access_token(settings, sandbox):
    async with api_client(settings) as first, api_client(settings) as second:
        alice = await login(first, sandbox.url, "alice")
        bob = await login(second, sandbox.url, "bob")
        # Many calls at once through both instances: one of them fetches the token, the other waits and reads it.
        answers = await asyncio.gather(
            *(bind_phone(first, sandbox, alice, "alice") for _ in range(4)),
            *(bind_phone(second, sandbox, bob, "bob") for _ in range(4)),
        )
        assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
        # Later calls reuse it too.
        assert (await bind_phone(second, sandbox, bob, "bob")).status_code == 200
        assert (await bind_phone(first, sandbox, alice, "alice")).status_code == 200
    stats = await sandbox.stats()
    assert stats["stable_token"] == 1
    assert stats["tokens_issued"] == 1
    assert stats.get("force_refresh", 0) == 0
    assert stats["getuserphonenumber"] == 10


async def test_a_new_instance_reads_the_token_from_the_database(settings, sandbox):
    async with wechat_client(settings) as first:
        token = await first.tokens.get()
    async with wechat_client(settings) as second:
        assert await second.tokens.get() == token
    assert (await sandbox.stats())["stable_token"] == 1


@pytest.mark.parametrize("errcode", [42001, 40001])
async def test_force_refresh_only_after_the_token_is_refused(client, settings, sandbox, errcode):
    tokens = await login(client, sandbox.url, "alice")
    assert (await bind_phone(client, sandbox, tokens, "alice")).status_code == 200
    await sandbox.fault("busy", count=1)  # errors other than 40001/42001 never force a refresh
    assert (await bind_phone(client, sandbox, tokens, "alice")).status_code == 200
    assert (await sandbox.stats()).get("force_refresh", 0) == 0

    await sandbox.control("POST", "/sandbox/access-token/revoke", json={"errcode": errcode})
    assert (await bind_phone(client, sandbox, tokens, "alice")).status_code == 200
    stats = await sandbox.stats()
    assert stats["force_refresh"] == 1 and stats["tokens_issued"] == 2
    assert (await bind_phone(client, sandbox, tokens, "alice")).status_code == 200
    assert (await sandbox.stats())["tokens_issued"] == 2


async def test_instances_do_not_force_refresh_over_each_other(settings, sandbox):
    """Two instances hold the same token when WeChat refuses it: one forced refresh, not two."""
    async with wechat_client(settings) as first, wechat_client(settings) as second:
        await first.tokens.get()
        await second.tokens.get()
        sandbox.state.visit("alice", with_unionid=False)
        await sandbox.control("POST", "/sandbox/access-token/revoke", json={"errcode": 42001})
        openid = sandbox.state.openid_for("alice")
        verdicts = await asyncio.gather(first.check_text(openid, 2, "hello"), second.check_text(openid, 2, "hi"))
    assert [v.suggest for v in verdicts] == ["pass", "pass"]
    stats = await sandbox.stats()
    assert stats["force_refresh"] == 1 and stats["tokens_issued"] == 2


async def test_token_is_renewed_shortly_before_it_expires(settings, sandbox, database_url):
    async with wechat_client(settings) as client:
        old = await client.tokens.get()
    # Time passes: the token is within the margin of its expiry, here and at WeChat.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE wechat_access_tokens SET expires_at = now() + interval '100 seconds'")
    finally:
        await conn.close()
    await sandbox.control("POST", "/sandbox/clock", json={"advanceSeconds": 7100})
    async with wechat_client(settings) as client:
        new = await client.tokens.get()
    assert new != old
    stats = await sandbox.stats()
    assert stats["tokens_issued"] == 2 and stats.get("force_refresh", 0) == 0
    # The old token stays valid until its own expiry (WeChat's normal mode), so no caller saw an error.
    assert sandbox.state.check_token(old) == 0


async def test_wrong_secret_for_the_token_is_wechat_error(settings, sandbox):
    from tests.support import make_settings

    wrong = make_settings(
        settings.database_url, wechat_api_base=sandbox.url, wechat_appid=settings.sandbox_appid, wechat_secret="no"
    )
    async with wechat_client(wrong) as client:
        with pytest.raises(WeChatError) as caught:
            await client.tokens.get()
    assert caught.value.errcode == 40125


# -- retries -----------------------------------------------------------------------------------------------


async def test_busy_is_retried_a_bounded_number_of_times(settings, sandbox):
    sandbox.state.visit("alice", with_unionid=False)
    openid = sandbox.state.openid_for("alice")
    async with wechat_client(settings) as client:
        await client.tokens.get()
        await sandbox.fault("busy", count=settings.wechat_retries)
        assert (await client.check_text(openid, 2, "hello")).suggest == "pass"
        await sandbox.fault("busy", count=settings.wechat_retries + 1)
        with pytest.raises(WeChatUnavailable):
            await client.check_text(openid, 2, "hello")


async def test_http_500_is_retried_only_for_repeatable_calls(settings, sandbox):
    sandbox.state.visit("alice", with_unionid=False)
    openid = sandbox.state.openid_for("alice")
    await sandbox.control("POST", "/sandbox/subscribe-consent", json={"user": "alice", "templateId": "T1"})
    async with wechat_client(settings) as client:
        await client.tokens.get()
        await sandbox.fault("http500", count=1)
        assert (await client.check_text(openid, 2, "hello")).suggest == "pass"  # repeatable: retried
        await sandbox.fault("http500", count=1)
        with pytest.raises(WeChatUnavailable):  # a send is never repeated once it may have arrived
            await client.send_subscribe_message(openid, "T1", {"thing1": "hi"})
    assert (await sandbox.stats()).get("subscribe_send", 0) == 0


# -- content safety and messages ---------------------------------------------------------------------------


async def test_msg_sec_check_verdicts(settings, sandbox):
    sandbox.state.visit("alice", with_unionid=False)
    openid = sandbox.state.openid_for("alice")
    await sandbox.control("PUT", "/sandbox/content-rules", json={"risky": {"scam": 20008}, "review": {"maybe": 21000}})
    async with wechat_client(settings) as client:
        assert (await client.check_text(openid, 3, "a fine post")).label == 100
        risky = await client.check_text(openid, 3, "this is a SCAM")
        assert (risky.suggest, risky.label) == ("risky", 20008)
        assert (await client.check_text(openid, 2, "maybe so")).suggest == "review"
        with pytest.raises(WeChatError) as unknown:
            await client.check_text("o-nobody", 2, "hello")
        assert unknown.value.errcode == 40003
        await sandbox.control("POST", "/sandbox/clock", json={"advanceSeconds": 7201})
        with pytest.raises(WeChatError) as stale:
            await client.check_text(openid, 2, "hello")
        assert stale.value.errcode == 61010


async def test_subscribe_messages_use_one_consent_each(settings, sandbox):
    sandbox.state.visit("alice", with_unionid=False)
    openid = sandbox.state.openid_for("alice")
    async with wechat_client(settings) as client:
        refused = await client.send_subscribe_message(openid, "TPL", {"thing1": "new comment"})
        assert (refused.sent, refused.errcode) == (False, 43101)
        await sandbox.control("POST", "/sandbox/subscribe-consent", json={"user": "alice", "templateId": "TPL"})
        sent = await client.send_subscribe_message(openid, "TPL", {"thing1": "new comment"}, page="pages/post?id=1")
        assert sent.sent
        assert not (await client.send_subscribe_message(openid, "TPL", {"thing1": "again"})).sent
    recorded = (await sandbox.control("GET", "/sandbox/messages/subscribe", params={"openid": openid}))["items"]
    assert len(recorded) == 1
    assert recorded[0]["message"]["data"] == {"thing1": {"value": "new comment"}}
    assert recorded[0]["message"]["page"] == "pages/post?id=1"


async def test_custom_messages_are_recorded(settings, sandbox):
    sandbox.state.visit("alice", with_unionid=False)
    openid = sandbox.state.openid_for("alice")
    async with wechat_client(settings) as client:
        await client.send_custom_text(openid, "欢迎加入!")
        with pytest.raises(WeChatError) as empty:
            await client.send_custom_text(openid, " ")
        assert empty.value.errcode == 44004
    items = (await sandbox.control("GET", "/sandbox/messages/custom"))["items"]
    assert [item["message"]["text"]["content"] for item in items] == ["欢迎加入!"]
    await sandbox.control("DELETE", "/sandbox/messages")
    assert (await sandbox.control("GET", "/sandbox/messages/custom"))["items"] == []


async def test_phone_binding_while_wechat_is_down_is_503(client, sandbox):
    tokens = await login(client, sandbox.url, "alice")
    await sandbox.fault("busy")
    assert_problem(await bind_phone(client, sandbox, tokens, "alice"), 503, "wechat_unavailable")
    await sandbox.control("DELETE", "/sandbox/faults")
    assert (await bind_phone(client, sandbox, tokens, "alice")).status_code == 200
