"""Open data (encryptedData, rawData signatures) and session keys sealed at rest."""

from __future__ import annotations

import base64
import json
import logging

import asyncpg
import msgspec
import pytest

from service.core.open_data import open_data
from service.errors import Problem
from service.settings import SettingsError
from service.wechat import crypto
from service.wechat.sealing import SessionKeySealer
from tests.support import ROOT, api_client, make_settings
from tests.wechat_support import bearer, login, run_sandbox, sandbox_config

VECTOR = json.loads((ROOT / "tests" / "vectors" / "wxa-encrypted-data.json").read_text())


def test_official_sample_decrypts():
    data = crypto.decrypt_open_data(VECTOR["sessionKey"], VECTOR["iv"], VECTOR["encryptedData"], VECTOR["appId"])
    assert data["openId"] == VECTOR["expected"]["openId"]
    assert data["unionId"] == VECTOR["expected"]["unionId"]
    assert data["watermark"]["appid"] == VECTOR["expected"]["watermarkAppid"]


@pytest.mark.parametrize(
    ("session_key", "iv", "appid"),
    [
        (VECTOR["sessionKey"], VECTOR["iv"], "wx0000000000000000"),  # issued for another mini program
        (base64.b64encode(b"k" * 16).decode(), VECTOR["iv"], VECTOR["appId"]),  # another login's key
        (VECTOR["sessionKey"], base64.b64encode(b"i" * 16).decode(), VECTOR["appId"]),
        ("not base64!", VECTOR["iv"], VECTOR["appId"]),
        (VECTOR["sessionKey"], "short", VECTOR["appId"]),
    ],
)
def test_open_data_that_does_not_decrypt_is_invalid_open_data(session_key, iv, appid):
    with pytest.raises(Problem) as caught:
        crypto.decrypt_open_data(session_key, iv, VECTOR["encryptedData"], appid)
    assert caught.value.code == "invalid_open_data"


def test_raw_data_signature():
    raw = '{"nickName":"Band","gender":1}'
    key = VECTOR["sessionKey"]
    import hashlib

    crypto.check_raw_data_signature(key, raw, hashlib.sha1((raw + key).encode()).hexdigest())
    with pytest.raises(Problem) as caught:
        crypto.check_raw_data_signature(key, raw + " ", hashlib.sha1((raw + key).encode()).hexdigest())
    assert caught.value.code == "open_data_signature_mismatch"


async def test_official_sample_through_login_and_the_stored_session_key(database_url):
    """The documented sample, end to end: WeChat hands out its session_key at login; we seal it, store it,
    and later decrypt the sample's encryptedData with it (appid wx4f4bc4dec97d474b)."""
    appid = VECTOR["appId"]
    async with run_sandbox(sandbox_config(appid=appid, secret="sample-secret")) as sandbox:
        settings = make_settings(
            database_url, wechat_api_base=sandbox.url, wechat_appid=appid, wechat_secret="sample-secret"
        )
        code = await sandbox.wx_login("sample-user")
        sandbox.state.user("sample-user").session_key = VECTOR["sessionKey"]
        async with api_client(settings) as api:
            answer = await api.post("/v1/auth/login", json={"code": code})
        assert answer.status_code == 200, answer.text
        conn = await asyncpg.connect(database_url)
        try:
            data = await open_data(
                conn,
                SessionKeySealer(settings),
                int(answer.json()["user"]["id"]),
                VECTOR["encryptedData"],
                VECTOR["iv"],
            )
        finally:
            await conn.close()
    assert data["openId"] == VECTOR["expected"]["openId"]


async def test_open_data_from_the_latest_login_only(client, sandbox, settings, database_url):
    tokens = await login(client, sandbox.url, "alice")
    user_id = int(tokens["user"]["id"])
    share = {"openGId": "tGabc123", "nickName": "爱丽丝"}
    sealed = await sandbox.control("POST", "/sandbox/open-data", json={"user": "alice", "data": share})
    conn = await asyncpg.connect(database_url)
    try:
        sealer = SessionKeySealer(settings)
        data = await open_data(
            conn, sealer, user_id, sealed["encryptedData"], sealed["iv"],
            raw_data=sealed["rawData"], signature=sealed["signature"],
        )  # fmt: skip
        assert data["openGId"] == "tGabc123" and data["watermark"]["appid"] == settings.sandbox_appid
        with pytest.raises(Problem) as forged:
            await open_data(
                conn, sealer, user_id, sealed["encryptedData"], sealed["iv"],
                raw_data=sealed["rawData"].replace("爱丽丝", "Mallory"), signature=sealed["signature"],
            )  # fmt: skip
        assert forged.value.code == "open_data_signature_mismatch"
        # The client called wx.login again but did not log in to us: its new data does not open with our key.
        await sandbox.wx_login("alice")
        newer = await sandbox.control("POST", "/sandbox/open-data", json={"user": "alice", "data": share})
        with pytest.raises(Problem) as stale:
            await open_data(conn, sealer, user_id, newer["encryptedData"], newer["iv"])
        assert stale.value.code == "invalid_open_data"
        await login(client, sandbox.url, "alice")
        newest = await sandbox.control("POST", "/sandbox/open-data", json={"user": "alice", "data": share})
        data = await open_data(conn, sealer, user_id, newest["encryptedData"], newest["iv"])
        assert data["openGId"] == "tGabc123"
    finally:
        await conn.close()


# -- sealing -----------------------------------------------------------------------------------------------


def test_sealed_session_keys_are_bound_to_their_member_and_key():
    settings = make_settings("postgresql://unused/unused")
    sealer = SessionKeySealer(settings)
    sealed = sealer.seal(VECTOR["sessionKey"], appid="wxa", openid="o1")
    assert VECTOR["sessionKey"].encode() not in sealed
    assert sealer.seal(VECTOR["sessionKey"], appid="wxa", openid="o1") != sealed  # fresh nonce each time
    assert sealer.open(sealed, appid="wxa", openid="o1") == VECTOR["sessionKey"]
    assert sealer.open(sealed, appid="wxa", openid="o2") is None
    assert sealer.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), appid="wxa", openid="o1") is None
    assert sealer.open(b"\x02" + sealed[1:], appid="wxa", openid="o1") is None
    other = SessionKeySealer(msgspec.structs.replace(settings, secret_key="another-secret-key-long-enough-0123456"))
    assert other.open(sealed, appid="wxa", openid="o1") is None
    explicit = msgspec.structs.replace(settings, session_key_cipher_key=base64.urlsafe_b64encode(b"k" * 32).decode())
    assert (
        SessionKeySealer(explicit).open(
            SessionKeySealer(explicit).seal("x", appid="a", openid="b"), appid="a", openid="b"
        )
        == "x"
    )


def test_a_bad_cipher_key_is_refused():
    settings = make_settings("postgresql://unused/unused", session_key_cipher_key="too-short")
    with pytest.raises(SettingsError, match="SESSION_KEY_CIPHER_KEY"):
        SessionKeySealer(settings)


# -- the session_key never leaves the server ---------------------------------------------------------------


async def test_session_key_is_never_answered_nor_logged(client, sandbox, settings, database_url, caplog):
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore", "service", "uvicorn", "litestar")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    answers = []
    keys = set()
    try:
        for _ in range(2):
            code = await sandbox.wx_login("alice")
            keys.add(sandbox.state.user("alice").session_key)
            answers.append(await client.post("/v1/auth/login", json={"code": code}))
        tokens = answers[-1].json()
        code = await sandbox.phone_code("alice")
        answers.append(await client.post("/v1/auth/phone", json={"code": code}, headers=bearer(tokens)))
        answers.append(await client.get("/v1/me", headers=bearer(tokens)))
        answers.append(await client.put("/v1/me", json={"nickname": "Alice"}, headers=bearer(tokens)))
        answers.append(await client.post("/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]}))
        answers.append(await client.post("/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]}))
        answers.append(await client.post("/v1/auth/login", json={"code": code}))  # an error answer, too
        sealed = await sandbox.control("POST", "/sandbox/open-data", json={"user": "alice", "data": {"a": 1}})
        conn = await asyncpg.connect(database_url)
        try:
            await open_data(
                conn, SessionKeySealer(settings), int(tokens["user"]["id"]), sealed["encryptedData"], sealed["iv"]
            )
        finally:
            await conn.close()
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    assert len(keys) == 2
    assert {"service.auth", "service.access", "httpcore.http11"} <= {record.name for record in caplog.records}
    for key in keys:
        for answer in answers:
            assert key not in answer.text and key not in str(answer.headers)
        for record in caplog.records:
            assert key not in record.getMessage()
            assert key not in repr(record.__dict__), record
    # And a settings dump never shows the secrets either.
    assert settings.secret_key not in repr(settings)
