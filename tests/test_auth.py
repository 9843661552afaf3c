"""Login, sessions and the member's profile over real HTTP, with WeChat emulated by the sandbox."""

from __future__ import annotations

import time

import asyncpg
import jwt
import msgspec
import pytest

from service.core.tokens import issue_access_token
from service.settings import SettingsError
from service.wechat.sealing import SessionKeySealer
from tests.media.conftest import phone_photo
from tests.support import api_client, make_settings
from tests.wechat_support import bearer, login, refresh_first
from tests.world import assert_problem

# -- login -------------------------------------------------------------------------------------------------


async def test_first_login_creates_the_member_and_repeat_login_finds_them(client, sandbox, settings, database_url):
    first = await login(client, sandbox.url, "alice")
    assert first["newUser"] is True
    assert first["tokenType"] == "Bearer"
    assert first["expiresIn"] == settings.access_token_ttl
    assert first["refreshExpiresIn"] == settings.refresh_token_ttl
    assert first["user"]["id"].isdigit() and first["user"]["nickname"] == "" and first["user"]["phoneNumber"] is None

    again = await login(client, sandbox.url, "alice")
    assert again["newUser"] is False
    assert again["user"]["id"] == first["user"]["id"]
    assert again["refreshToken"] != first["refreshToken"]
    bob = await login(client, sandbox.url, "bob")
    assert bob["newUser"] is True and bob["user"]["id"] != first["user"]["id"]

    me = await client.get("/v1/me", headers=bearer(again))
    assert me.status_code == 200 and me.json()["id"] == first["user"]["id"]

    # One row per openid; the session_key of the latest wx.login is kept, sealed, never in clear.
    latest_key = sandbox.state.user("alice").session_key
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT id, appid, openid, session_key_sealed FROM users ORDER BY id")
    finally:
        await conn.close()
    assert len(rows) == 2
    alice = rows[0]
    assert alice["appid"] == settings.sandbox_appid and alice["openid"] == sandbox.state.openid_for("alice")
    assert latest_key.encode() not in alice["session_key_sealed"]
    opened = SessionKeySealer(settings).open(alice["session_key_sealed"], appid=alice["appid"], openid=alice["openid"])
    assert opened == latest_key


async def test_unionid_is_kept_when_present(client, sandbox, database_url):
    code = await sandbox.wx_login("carol", with_unionid=True)
    assert (await client.post("/v1/auth/login", json={"code": code})).status_code == 200
    await login(client, sandbox.url, "carol")  # this answer carries no unionid: the stored one stays
    conn = await asyncpg.connect(database_url)
    try:
        unionid = await conn.fetchval("SELECT unionid FROM users")
    finally:
        await conn.close()
    assert unionid == sandbox.state.unionid_for("carol")


async def test_reused_code_is_code_used(client, sandbox):
    code = await sandbox.wx_login("alice")
    assert (await client.post("/v1/auth/login", json={"code": code})).status_code == 200
    assert_problem(await client.post("/v1/auth/login", json={"code": code}), 400, "code_used")


async def test_invalid_and_expired_codes_are_invalid_code(client, sandbox):
    assert_problem(await client.post("/v1/auth/login", json={"code": "not-a-real-code"}), 400, "invalid_code")
    code = await sandbox.wx_login("alice")
    await sandbox.control("POST", "/sandbox/clock", json={"advanceSeconds": 301})  # codes live 5 minutes
    assert_problem(await client.post("/v1/auth/login", json={"code": code}), 400, "invalid_code")


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": "with space"}, {"code": "x" * 129}, {"code": 12}])
async def test_malformed_login_is_validation_failed(client, body):
    assert_problem(await client.post("/v1/auth/login", json=body), 400, "validation_failed")


async def test_wrong_appid_or_secret_is_wechat_error(database_url, sandbox, settings):
    code = await sandbox.wx_login("alice")
    wrong_appid = make_settings(database_url, wechat_api_base=sandbox.url, wechat_appid="wx0000", wechat_secret="s")
    async with api_client(wrong_appid) as api:
        body = assert_problem(await api.post("/v1/auth/login", json={"code": code}), 502, "wechat_error")
    assert "40013" in body["detail"]
    wrong_secret = make_settings(
        database_url, wechat_api_base=sandbox.url, wechat_appid=settings.sandbox_appid, wechat_secret="not-it"
    )
    async with api_client(wrong_secret) as api:
        body = assert_problem(await api.post("/v1/auth/login", json={"code": code}), 502, "wechat_error")
    assert "40125" in body["detail"]
    # Neither attempt spent the code.
    async with api_client(settings) as api:
        assert (await api.post("/v1/auth/login", json={"code": code})).status_code == 200


# -- WeChat down -------------------------------------------------------------------------------------------


def assert_unavailable(response, settings) -> None:
    body = assert_problem(response, 503, "wechat_unavailable")
    assert response.headers["retry-after"] == str(settings.wechat_retry_after)
    assert body["retryAfter"] == settings.wechat_retry_after


async def test_wechat_busy_is_retried_then_503(client, sandbox, settings):
    code = await sandbox.wx_login("alice")
    await sandbox.fault("busy")  # errcode -1 until cleared
    assert_unavailable(await client.post("/v1/auth/login", json={"code": code}), settings)
    await sandbox.fault("busy", count=settings.wechat_retries)  # busy, busy, then an answer
    assert (await client.post("/v1/auth/login", json={"code": code})).status_code == 200


async def test_wechat_http_500_is_503(client, sandbox, settings):
    code = await sandbox.wx_login("alice")
    await sandbox.fault("http500", count=1)
    assert_unavailable(await client.post("/v1/auth/login", json={"code": code}), settings)


async def test_slow_wechat_times_out_as_503(database_url, sandbox):
    impatient = make_settings(database_url, wechat_api_base=sandbox.url, wechat_timeout=0.2)
    code = await sandbox.wx_login("alice")
    await sandbox.fault("slow", delay=1.0)
    async with api_client(impatient) as api:
        started = time.perf_counter()
        response = await api.post("/v1/auth/login", json={"code": code})
    assert_unavailable(response, impatient)
    # A login code is single-use: once the request may have reached WeChat it is not sent again.
    assert time.perf_counter() - started < 1.0


async def test_unreachable_wechat_is_503(database_url):
    nowhere = make_settings(database_url, wechat_api_base="http://127.0.0.1:9")  # discard port: refused
    async with api_client(nowhere) as api:
        assert_unavailable(await api.post("/v1/auth/login", json={"code": "abc"}), nowhere)


# -- rate limits -------------------------------------------------------------------------------------------


async def test_login_is_rate_limited_per_code(database_url, sandbox):
    strict = make_settings(database_url, wechat_api_base=sandbox.url, login_rate_per_code=2)
    async with api_client(strict) as api:
        for _ in range(2):
            assert_problem(await api.post("/v1/auth/login", json={"code": "guess-1"}), 400, "invalid_code")
        calls = (await sandbox.stats())["jscode2session"]
        response = await api.post("/v1/auth/login", json={"code": "guess-1"})
        body = assert_problem(response, 429, "rate_limited")
        assert 1 <= int(response.headers["retry-after"]) <= strict.login_rate_window
        assert body["retryAfter"] == int(response.headers["retry-after"])
        assert (await sandbox.stats())["jscode2session"] == calls  # refused before reaching WeChat
        assert_problem(await api.post("/v1/auth/login", json={"code": "guess-2"}), 400, "invalid_code")


async def test_login_is_rate_limited_per_client_address(database_url, sandbox):
    strict = make_settings(database_url, wechat_api_base=sandbox.url, login_rate_per_address=3)
    async with api_client(strict) as api:
        for name in ("a", "b", "c"):
            assert_problem(await api.post("/v1/auth/login", json={"code": f"bogus-{name}"}), 400, "invalid_code")
        code = await sandbox.wx_login("d")
        response = await api.post("/v1/auth/login", json={"code": code})
        assert_problem(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) <= strict.login_rate_window


async def test_successful_logins_do_not_use_up_the_address_limit(database_url, sandbox):
    """Many members behind one NAT address: only failed attempts count against it."""
    strict = make_settings(database_url, wechat_api_base=sandbox.url, login_rate_per_address=2)
    async with api_client(strict) as api:
        for name in ("a", "b", "c", "d"):
            await login(api, sandbox.url, name)
        assert_problem(await api.post("/v1/auth/login", json={"code": "bogus-1"}), 400, "invalid_code")
        await login(api, sandbox.url, "e")
        assert_problem(await api.post("/v1/auth/login", json={"code": "bogus-2"}), 400, "invalid_code")
        assert_problem(await api.post("/v1/auth/login", json={"code": "bogus-3"}), 429, "rate_limited")


async def test_behind_a_trusted_proxy_the_login_limit_keys_on_the_forwarded_client(database_url, sandbox):
    """The tests reach the app from 127.0.0.1: as a trusted proxy, its X-Forwarded-For names the client."""
    behind = make_settings(
        database_url, wechat_api_base=sandbox.url, login_rate_per_address=2, trusted_proxies="10.0.0.0/8, 127.0.0.1"
    )

    async def attempt(api, forwarded: str, status: int, code: str) -> None:
        # A code of its own per attempt: the per-code limit stays out of the way.
        body = {"code": "bogus-" + forwarded.replace(", ", "-")}
        response = await api.post("/v1/auth/login", json=body, headers={"x-forwarded-for": forwarded})
        assert_problem(response, status, code)

    async with api_client(behind) as api:
        # An attacker behind the proxy spends their own bucket; forging a left-hand address does not help,
        # since the proxy appends the address it saw (the rightmost untrusted hop is the client).
        await attempt(api, "203.0.113.7", 400, "invalid_code")
        await attempt(api, "198.51.100.1, 203.0.113.7", 400, "invalid_code")
        await attempt(api, "198.51.100.2, 203.0.113.7, 10.1.2.3", 429, "rate_limited")
        # Everyone else, behind the same proxy, still logs in.
        await attempt(api, "203.0.113.8", 400, "invalid_code")
        code = await sandbox.wx_login("alice")
        ok = await api.post("/v1/auth/login", json={"code": code}, headers={"x-forwarded-for": "203.0.113.9"})
        assert ok.status_code == 200, ok.text

    # Without TRUSTED_PROXIES the header is ignored: every forged address shares the peer's bucket.
    untrusting = make_settings(database_url, wechat_api_base=sandbox.url, login_rate_per_address=2)
    async with api_client(untrusting) as api:
        await attempt(api, "192.0.2.1", 400, "invalid_code")
        await attempt(api, "192.0.2.2", 400, "invalid_code")
        await attempt(api, "192.0.2.3", 429, "rate_limited")


async def test_logins_that_wechat_could_not_answer_do_not_use_up_the_address_limit(database_url, sandbox):
    """An outage is no guess: after it, members behind one NAT address are not locked out for a window."""
    strict = make_settings(database_url, wechat_api_base=sandbox.url, login_rate_per_address=2, wechat_retries=0)
    async with api_client(strict) as api:
        await sandbox.fault("http500", count=3)
        for n in range(3):
            code = await sandbox.wx_login(f"member-{n}")
            assert_unavailable(await api.post("/v1/auth/login", json={"code": code}), strict)
        assert_problem(await api.post("/v1/auth/login", json={"code": "bogus-1"}), 400, "invalid_code")
        assert_problem(await api.post("/v1/auth/login", json={"code": "bogus-2"}), 400, "invalid_code")
        assert_problem(await api.post("/v1/auth/login", json={"code": "bogus-3"}), 429, "rate_limited")


async def test_an_ipv6_client_is_limited_by_its_64_network(database_url, sandbox):
    """One subscriber holds a whole /64 and may take any address in it: a bucket per address would never fill."""
    behind = make_settings(
        database_url, wechat_api_base=sandbox.url, login_rate_per_address=2, trusted_proxies="127.0.0.1"
    )
    async with api_client(behind) as api:
        for n, forwarded in enumerate(("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:2:a:b:c:d")):
            response = await api.post(
                "/v1/auth/login", json={"code": f"bogus-v6-{n}"}, headers={"x-forwarded-for": forwarded}
            )
            assert_problem(response, 429 if n == 2 else 400, "rate_limited" if n == 2 else "invalid_code")
        # The next /64 is someone else's.
        code = await sandbox.wx_login("alice")
        ok = await api.post("/v1/auth/login", json={"code": code}, headers={"x-forwarded-for": "2001:db8:1:3::1"})
        assert ok.status_code == 200, ok.text


def test_trusted_proxies_must_be_addresses_or_networks(database_url):
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        make_settings(database_url, trusted_proxies="10.0.0.0/8, caddy")


async def test_wechat_rate_limit_45011_is_429(database_url, sandbox, settings):
    sandbox.state.config.jscode2session_per_minute = 1
    code1, code2 = await sandbox.wx_login("alice"), await sandbox.wx_login("alice")
    async with api_client(settings) as api:
        assert (await api.post("/v1/auth/login", json={"code": code1})).status_code == 200
        response = await api.post("/v1/auth/login", json={"code": code2})
    assert_problem(response, 429, "rate_limited")
    assert response.headers["retry-after"] == "60"


# -- refresh and logout ------------------------------------------------------------------------------------


async def test_refresh_rotates_the_refresh_token(client, sandbox):
    tokens = await login(client, sandbox.url, "alice")
    response = await client.post("/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["refreshToken"] != tokens["refreshToken"]
    assert set(rotated) == {"accessToken", "tokenType", "expiresIn", "refreshToken", "refreshExpiresIn"}
    assert (await client.get("/v1/me", headers=bearer(rotated))).status_code == 200
    again = await client.post("/v1/auth/refresh", json={"refreshToken": rotated["refreshToken"]})
    assert again.status_code == 200


async def test_reusing_a_spent_refresh_token_revokes_the_session(client, sandbox):
    tokens = await login(client, sandbox.url, "alice")
    other_session = await login(client, sandbox.url, "alice")
    rotated = (await client.post("/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})).json()
    # The spent token comes back (a copy was stolen): the whole family dies, including its newest token.
    reuse = await client.post("/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert_problem(reuse, 401, "refresh_token_reused")
    newest = await client.post("/v1/auth/refresh", json={"refreshToken": rotated["refreshToken"]})
    assert_problem(newest, 401, "invalid_refresh_token")
    # Another login of the same member is another session and stays valid.
    other = await client.post("/v1/auth/refresh", json={"refreshToken": other_session["refreshToken"]})
    assert other.status_code == 200


async def test_concurrent_refreshes_of_one_token_yield_one_winner(client, sandbox):
    import asyncio

    tokens = await login(client, sandbox.url, "alice")
    answers = await asyncio.gather(
        *(client.post("/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]}) for _ in range(5))
    )
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401, 401]


async def test_logout_revokes_the_refresh_token(client, sandbox):
    tokens = await login(client, sandbox.url, "alice")
    rotated = (await client.post("/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})).json()
    assert (await client.post("/v1/auth/logout", json={"refreshToken": rotated["refreshToken"]})).status_code == 204
    refused = await client.post("/v1/auth/refresh", json={"refreshToken": rotated["refreshToken"]})
    assert_problem(refused, 401, "invalid_refresh_token")
    # Idempotent, and silent about tokens it does not know.
    assert (await client.post("/v1/auth/logout", json={"refreshToken": rotated["refreshToken"]})).status_code == 204
    assert (await client.post("/v1/auth/logout", json={"refreshToken": "x" * 43})).status_code == 204


async def test_expired_and_unknown_refresh_tokens_are_refused(client, sandbox, database_url):
    tokens = await login(client, sandbox.url, "alice")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'")
    finally:
        await conn.close()
    expired = await client.post("/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert_problem(expired, 401, "invalid_refresh_token")
    assert_problem(await client.post("/v1/auth/refresh", json={"refreshToken": "y" * 43}), 401, "invalid_refresh_token")
    assert_problem(await client.post("/v1/auth/refresh", json={"refreshToken": "short"}), 400, "validation_failed")


async def test_a_logout_racing_a_refresh_also_revokes_the_token_that_refresh_mints(client, sandbox, database_url):
    """The refresh holds the token's row when the logout comes: its successor belongs to the session too."""
    alice = await login(client, sandbox.url, "alice")
    logout = client.post("/v1/auth/logout", json={"refreshToken": alice["refreshToken"]})
    refreshed, logged_out = await refresh_first(database_url, client, alice["refreshToken"], logout)
    assert logged_out.status_code == 204 and refreshed.status_code == 200, (logged_out.text, refreshed.text)

    after = await client.post("/v1/auth/refresh", json={"refreshToken": refreshed.json()["refreshToken"]})
    assert_problem(after, 401, "invalid_refresh_token")


async def test_a_reuse_racing_a_refresh_also_revokes_the_token_that_refresh_mints(client, sandbox, database_url):
    """A copy of a spent token comes back while the holder of its successor refreshes: the whole family dies."""
    alice = await login(client, sandbox.url, "alice")
    second = (await client.post("/v1/auth/refresh", json={"refreshToken": alice["refreshToken"]})).json()
    reuse = client.post("/v1/auth/refresh", json={"refreshToken": alice["refreshToken"]})  # the spent one, copied
    refreshed, reused = await refresh_first(database_url, client, second["refreshToken"], reuse)
    assert_problem(reused, 401, "refresh_token_reused")
    assert refreshed.status_code == 200, refreshed.text

    after = await client.post("/v1/auth/refresh", json={"refreshToken": refreshed.json()["refreshToken"]})
    assert_problem(after, 401, "invalid_refresh_token")


# -- access tokens -----------------------------------------------------------------------------------------


async def test_session_names_the_token_holder(client, sandbox):
    tokens = await login(client, sandbox.url, "alice")
    response = await client.get("/v1/auth/session", headers=bearer(tokens))
    assert response.status_code == 200
    body = response.json()
    assert body["userId"] == tokens["user"]["id"]
    assert body["expiresAt"].endswith("Z") or body["expiresAt"].endswith("+00:00")


async def test_expired_access_token_is_token_expired(client, sandbox, settings):
    tokens = await login(client, sandbox.url, "alice")
    old = issue_access_token(settings, int(tokens["user"]["id"]), now=time.time() - settings.access_token_ttl - 1)
    assert_problem(await client.get("/v1/me", headers=bearer(old)), 401, "token_expired")


async def test_tampered_and_foreign_tokens_are_refused(client, sandbox, settings):
    alice = await login(client, sandbox.url, "alice")
    bob = await login(client, sandbox.url, "bob")
    header, payload, signature = alice["accessToken"].split(".")
    claims = jwt.decode(alice["accessToken"], options={"verify_signature": False})
    claims["sub"] = bob["user"]["id"]
    forged_payload = jwt.utils.base64url_encode(msgspec.json.encode(claims)).decode()
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    foreign = jwt.encode(claims, "another-secret-key-that-is-long-enough-000", algorithm="HS256")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    for token in (
        f"{header}.{forged_payload}.{signature}",
        unsigned,
        foreign,
        f"{header}.{payload}.{flipped}",
        alice["refreshToken"],
        "not.a.jwt",
    ):
        assert_problem(await client.get("/v1/me", headers=bearer(token)), 401, "unauthorized")
    assert_problem(await client.get("/v1/me"), 401, "unauthorized")
    assert_problem(
        await client.get("/v1/me", headers={"authorization": f"Basic {alice['accessToken']}"}), 401, "unauthorized"
    )


def _claims_without(claims: dict, name: str) -> dict:
    return {k: v for k, v in claims.items() if k != name}


ARABIC_INDIC = str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")


# Each case: how a token is made from the genuine claims and the secret key. All must answer 401 unauthorized.
WRONG_TOKENS = {
    "HS512 with the right key": lambda c, key: jwt.encode(c, key, algorithm="HS512"),
    "HS384 with the right key": lambda c, key: jwt.encode(c, key, algorithm="HS384"),
    "another issuer": lambda c, key: jwt.encode({**c, "iss": "someone-else"}, key, algorithm="HS256"),
    "typ refresh": lambda c, key: jwt.encode({**c, "typ": "refresh"}, key, algorithm="HS256"),
    "no typ": lambda c, key: jwt.encode(_claims_without(c, "typ"), key, algorithm="HS256"),
    "no exp": lambda c, key: jwt.encode(_claims_without(c, "exp"), key, algorithm="HS256"),
    "no sub": lambda c, key: jwt.encode(_claims_without(c, "sub"), key, algorithm="HS256"),
    "sub not a user id": lambda c, key: jwt.encode({**c, "sub": "admin"}, key, algorithm="HS256"),
    # isdigit() took these: Arabic-Indic digits, and 30 nines overflowed bigint into a 500.
    "sub in Arabic-Indic digits": lambda c, key: jwt.encode(
        {**c, "sub": c["sub"].translate(ARABIC_INDIC)}, key, algorithm="HS256"
    ),
    "sub past bigint": lambda c, key: jwt.encode({**c, "sub": "9" * 30}, key, algorithm="HS256"),
    "sub zero": lambda c, key: jwt.encode({**c, "sub": "0"}, key, algorithm="HS256"),
    "sub with a leading zero": lambda c, key: jwt.encode({**c, "sub": "0" + c["sub"]}, key, algorithm="HS256"),
    "sub with a sign": lambda c, key: jwt.encode({**c, "sub": "+" + c["sub"]}, key, algorithm="HS256"),
    "sub with a newline": lambda c, key: jwt.encode({**c, "sub": c["sub"] + "\n"}, key, algorithm="HS256"),
    "exp not an integer": lambda c, key: jwt.encode({**c, "exp": float(c["exp"]) + 0.5}, key, algorithm="HS256"),
    "key id header injected": lambda c, key: jwt.encode(c, key, algorithm="HS256", headers={"kid": "../../x"}) + "x",
}


# A forger's HS384/HS512 with the test key: PyJWT warns that the key is short for them, which is beside the point.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("make", WRONG_TOKENS.values(), ids=WRONG_TOKENS)
async def test_tokens_signed_or_claiming_otherwise_are_refused(client, sandbox, settings, make):
    tokens = await login(client, sandbox.url, "alice")
    claims = jwt.decode(tokens["accessToken"], options={"verify_signature": False})
    token = make(claims, settings.secret_key)
    assert_problem(await client.get("/v1/me", headers=bearer(token)), 401, "unauthorized")


async def test_a_token_of_an_account_that_is_gone_is_refused(client, sandbox, database_url):
    tokens = await login(client, sandbox.url, "alice")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DELETE FROM refresh_tokens")
        await conn.execute("DELETE FROM users WHERE id = $1", int(tokens["user"]["id"]))
    finally:
        await conn.close()
    assert_problem(await client.get("/v1/me", headers=bearer(tokens)), 401, "unauthorized")
    refused = await client.post("/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert_problem(refused, 401, "invalid_refresh_token")


async def test_a_reused_refresh_token_revokes_every_token_of_its_family(client, sandbox):
    # Rotate three times, then the first token comes back: each of the four refresh tokens is dead.
    tokens = await login(client, sandbox.url, "alice")
    family = [tokens["refreshToken"]]
    for _ in range(3):
        answer = await client.post("/v1/auth/refresh", json={"refreshToken": family[-1]})
        family.append(answer.json()["refreshToken"])
    assert_problem(await client.post("/v1/auth/refresh", json={"refreshToken": family[0]}), 401, "refresh_token_reused")
    for spent in family[1:]:
        refused = await client.post("/v1/auth/refresh", json={"refreshToken": spent})
        assert refused.status_code == 401 and refused.json()["code"] in (
            "invalid_refresh_token",
            "refresh_token_reused",
        )
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refreshToken": family[-1]}), 401, "invalid_refresh_token"
    )


# -- phone -------------------------------------------------------------------------------------------------


async def test_phone_binding_with_a_single_use_code(client, sandbox):
    tokens = await login(client, sandbox.url, "alice")
    code = await sandbox.phone_code("alice", "13800138000")
    response = await client.post("/v1/auth/phone", json={"code": code}, headers=bearer(tokens))
    assert response.status_code == 200, response.text
    assert response.json()["phoneNumber"] == "+8613800138000"
    assert (await client.get("/v1/me", headers=bearer(tokens))).json()["phoneNumber"] == "+8613800138000"
    # A spent or unknown button code is the button's problem, not the session's: the member taps the button again
    # (logging in again, and repeating the call with the same code, could never help).
    for spent in (code, "nope"):
        answer = await client.post("/v1/auth/phone", json={"code": spent}, headers=bearer(tokens))
        body = assert_problem(answer, 400, "phone_code_invalid")
        assert body["action"] == "show" and "手机号" in body["userMessage"] and "登录" not in body["userMessage"]
    # The session still works: nothing asked the member to log in again.
    assert (await client.get("/v1/me", headers=bearer(tokens))).status_code == 200
    assert_problem(await client.post("/v1/auth/phone", json={"code": code}), 401, "unauthorized")


async def test_phone_binding_past_the_limit_is_refused_before_wechat_is_asked(database_url, sandbox):
    """PHONE_BINDS_PER_HOUR attempts per member, failed ones too; the next one never reaches getPhoneNumber."""
    limited = make_settings(database_url, wechat_api_base=sandbox.url, phone_binds_per_hour=3)
    async with api_client(limited) as client:
        alice, bob = await login(client, sandbox.url, "alice"), await login(client, sandbox.url, "bob")
        spent = await sandbox.phone_code("alice", "13800138000")
        assert (await client.post("/v1/auth/phone", json={"code": spent}, headers=bearer(alice))).status_code == 200
        for _ in range(2):  # a spent code costs a WeChat call as well: it counts
            answer = await client.post("/v1/auth/phone", json={"code": spent}, headers=bearer(alice))
            assert_problem(answer, 400, "phone_code_invalid")
        asked = (await sandbox.stats())["getuserphonenumber"]
        code = await sandbox.phone_code("alice", "13900139000")
        refused = await client.post("/v1/auth/phone", json={"code": code}, headers=bearer(alice))
        body = assert_problem(refused, 429, "rate_limited")
        assert body["userMessage"] == "操作太频繁了，请稍后再试。"
        assert 1 <= int(refused.headers["retry-after"]) <= 3600
        assert (await sandbox.stats())["getuserphonenumber"] == asked == 3  # WeChat was not asked
        assert (await client.get("/v1/me", headers=bearer(alice))).json()["phoneNumber"] == "+8613800138000"
        # The limit is the member's own: bob binds his number.
        bobs = await sandbox.phone_code("bob", "13700137000")
        answer = await client.post("/v1/auth/phone", json={"code": bobs}, headers=bearer(bob))
        assert answer.status_code == 200 and answer.json()["phoneNumber"] == "+8613700137000"


# -- profile -----------------------------------------------------------------------------------------------


async def _avatar(client, tokens) -> str:
    """An avatar as the mini program uploads it (wx.chooseAvatar, then wx.uploadFile): its media id."""
    files = {"file": ("avatar.jpg", phone_photo(400, 400, orientation=1), "image/jpeg")}
    response = await client.post("/v1/media", files=files, data={"purpose": "avatar"}, headers=bearer(tokens))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_profile_edit(client, sandbox, settings):
    tokens = await login(client, sandbox.url, "alice")
    update = {"nickname": "爱丽丝 Alice", "avatarMediaId": await _avatar(client, tokens)}
    response = await client.put("/v1/me", json=update, headers=bearer(tokens))
    assert response.status_code == 200, response.text
    assert response.json()["nickname"] == "爱丽丝 Alice"
    link = f"{settings.public_base_url}/v1/media/public/{update['avatarMediaId']}"
    me = (await client.get("/v1/me", headers=bearer(tokens))).json()
    assert me["avatarUrl"] == link
    # Absent fields stay as they are.
    response = await client.put("/v1/me", json={"nickname": "Al"}, headers=bearer(tokens))
    assert response.json()["avatarUrl"] == link
    assert (await sandbox.stats())["msg_sec_check"] == 2


@pytest.mark.parametrize(
    ("update", "field"),
    [
        # An avatar is an upload now: a URL, from any host, is refused and the client told what replaced it.
        ({"avatarUrl": "https://cdn.example.com/a.png"}, "avatarUrl"),
        ({"nickname": "Al", "avatarUrl": "javascript:alert(1)"}, "avatarUrl"),
        ({"avatarMediaId": "https://cdn.example.com/a.png"}, "avatarMediaId"),
        ({"avatarMediaId": "0"}, "avatarMediaId"),
        ({"nickname": ""}, "nickname"),
        ({"nickname": "x" * 33}, "nickname"),
        ({"nickname": " padded"}, "nickname"),
        ({"nickname": "line\nbreak"}, "nickname"),
        ({"nickname": None, "avatar": "https://a.example/x.png"}, None),
    ],
)
async def test_profile_validation(client, sandbox, update, field):
    tokens = await login(client, sandbox.url, "alice")
    body = assert_problem(await client.put("/v1/me", json=update, headers=bearer(tokens)), 400, "validation_failed")
    if field:
        assert any(field in error["field"] or error["field"] == "body" for error in body["errors"]), body
    if field == "avatarUrl":
        [error] = body["errors"]
        assert (error["field"], error["reason"]) == ("avatarUrl", "unknown_field")
        assert "upload the photo (POST /v1/media, purpose `avatar`)" in error["message"]
        assert "`avatarMediaId`" in error["message"]
    me = (await client.get("/v1/me", headers=bearer(tokens))).json()
    assert me["nickname"] == "" and me["avatarUrl"] == ""  # nothing of a refused edit is kept


async def test_risky_nickname_is_rejected_and_review_passes(client, sandbox):
    tokens = await login(client, sandbox.url, "alice")
    risky = await client.put("/v1/me", json={"nickname": "sandbox-risky guy"}, headers=bearer(tokens))
    assert_problem(risky, 422, "content_rejected")
    review = await client.put("/v1/me", json={"nickname": "sandbox-review me"}, headers=bearer(tokens))
    assert review.status_code == 200
    assert (await client.get("/v1/me", headers=bearer(tokens))).json()["nickname"] == "sandbox-review me"


async def test_nickname_check_needs_a_recent_visit(client, sandbox):
    tokens = await login(client, sandbox.url, "alice")
    await sandbox.control("POST", "/sandbox/clock", json={"advanceSeconds": 2 * 3600 + 1})
    stale = await client.put("/v1/me", json={"nickname": "Alice"}, headers=bearer(tokens))
    assert_problem(stale, 409, "wechat_session_stale")
    await login(client, sandbox.url, "alice")  # wx.login again: WeChat has seen the member
    assert (await client.put("/v1/me", json={"nickname": "Alice"}, headers=bearer(tokens))).status_code == 200


async def test_avatar_only_edit_needs_no_content_check(client, sandbox):
    tokens = await login(client, sandbox.url, "alice")
    media_id = await _avatar(client, tokens)
    await sandbox.fault("http500")
    response = await client.put("/v1/me", json={"avatarMediaId": media_id}, headers=bearer(tokens))
    assert response.status_code == 200


async def test_prune_drops_expired_tokens_and_finished_windows(client, sandbox, settings, database_url):
    from service.auth import logic
    from service.core import ratelimit

    alice = await login(client, sandbox.url, "alice")
    await login(client, sandbox.url, "bob")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE refresh_tokens SET expires_at = now() - interval '2 days' WHERE user_id = $1",
            int(alice["user"]["id"]),
        )
        await conn.execute("UPDATE rate_limits SET window_start = now() - interval '1 hour' WHERE bucket LIKE '%code%'")
        # Hourly and daily limits live as long as their own windows (the clean-up once kept 2 minutes for all).
        for bucket, window, age in [
            ("hour:young", 3600, "3 minutes"),
            ("hour:old", 3600, "61 minutes"),
            ("day:young", 86400, "2 hours"),
            ("day:old", 86400, "25 hours"),
        ]:
            await ratelimit.hit(conn, {bucket: 10}, window, "test")
            await conn.execute(
                "UPDATE rate_limits SET window_start = now() - $2::text::interval WHERE bucket = $1", bucket, age
            )
        await logic.prune(conn)
        assert await conn.fetchval("SELECT count(*) FROM refresh_tokens") == 1
        kept = [row["bucket"] for row in await conn.fetch("SELECT bucket FROM rate_limits ORDER BY bucket")]
        addresses = [bucket for bucket in kept if bucket.startswith("login:address:")]
        assert len(addresses) == 1  # the address window is current; the codes' ended an hour ago
        assert sorted(set(kept) - set(addresses)) == ["day:young", "hour:young"]
    finally:
        await conn.close()
