"""The WeChat sandbox speaks WeChat's shapes and errcodes (checked directly, over HTTP)."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from service.wechat import crypto
from tests.wechat_support import run_sandbox, sandbox_config

APPID, SECRET = "wxsandbox0000000001", "sandbox-secret-not-for-production"


def session_query(code: str, **overrides: str) -> dict[str, str]:
    return {"appid": APPID, "secret": SECRET, "js_code": code, "grant_type": "authorization_code", **overrides}


async def stable_token(sandbox, **overrides) -> dict:
    body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET, **overrides}
    return (await sandbox.http.post("/cgi-bin/stable_token", json=body)).json()


async def test_jscode2session_answers_like_wechat(sandbox):
    code = await sandbox.wx_login("alice")
    response = await sandbox.http.get("/sns/jscode2session", params=session_query(code))
    assert response.headers["content-type"].startswith("text/plain")
    answer = response.json()
    assert set(answer) == {"openid", "session_key"}
    assert answer["openid"].startswith("o") and len(answer["openid"]) == 28
    assert len(answer["session_key"]) == 24
    again = (await sandbox.http.get("/sns/jscode2session", params=session_query(code))).json()
    assert again["errcode"] == 40163 and again["errmsg"].startswith("code been used")

    # The same name is the same openid every time; wx.login replaces the session_key.
    code = await sandbox.wx_login("alice", with_unionid=True)
    answer2 = (await sandbox.http.get("/sns/jscode2session", params=session_query(code))).json()
    assert answer2["openid"] == answer["openid"] and answer2["session_key"] != answer["session_key"]
    assert answer2["unionid"].startswith("u")


@pytest.mark.parametrize(
    ("overrides", "errcode"),
    [
        ({"appid": "wx0000000000000000"}, 40013),
        ({"secret": "wrong"}, 40125),
        ({"appid": ""}, 41002),
        ({"secret": ""}, 41004),
        ({"grant_type": "client_credential"}, 40002),
        ({"js_code": ""}, 41008),
        ({"js_code": "made-up"}, 40029),
    ],
)
async def test_jscode2session_errors(sandbox, overrides, errcode):
    code = await sandbox.wx_login("alice")
    answer = (await sandbox.http.get("/sns/jscode2session", params=session_query(code, **overrides))).json()
    assert answer["errcode"] == errcode
    if errcode != 40029:  # a refused call does not spend the code
        assert "openid" in (await sandbox.http.get("/sns/jscode2session", params=session_query(code))).json()


async def test_openids_differ_between_mini_programs():
    async with run_sandbox(sandbox_config(appid="wxA")) as a, run_sandbox(sandbox_config(appid="wxB")) as b:
        openid_a = (await a.control("POST", "/sandbox/wx-login", json={"user": "alice"}))["openid"]
        openid_b = (await b.control("POST", "/sandbox/wx-login", json={"user": "alice"}))["openid"]
    assert openid_a != openid_b
    assert a.state.unionid_for("alice") == b.state.unionid_for("alice")


async def test_get_share_info_gives_a_groups_open_gid_under_the_users_latest_session_key(sandbox):
    """A card tapped in a group chat gives a shareTicket; wx.getShareInfo with it answers {openGId, watermark}
    under the user's session_key of their latest wx.login. One group is one openGId per mini program."""
    await sandbox.wx_login("alice")
    tickets = [
        await sandbox.control("POST", "/sandbox/share-ticket", json={"group": g})
        for g in ("跑友群", "跑友群", "家庭群")
    ]
    assert tickets[0]["shareTicket"] != tickets[1]["shareTicket"]
    assert tickets[0]["openGid"] == tickets[1]["openGid"] != tickets[2]["openGid"]
    body = {"user": "alice", "shareTicket": tickets[0]["shareTicket"]}
    info = await sandbox.control("POST", "/sandbox/share-info", json=body)
    assert set(info) == {"encryptedData", "iv"}
    key = sandbox.state.user("alice").session_key
    data = crypto.decrypt_open_data(key, info["iv"], info["encryptedData"], sandbox.state.config.appid)
    assert data["openGId"] == tickets[0]["openGid"] and data["watermark"]["timestamp"] <= time.time() + 1
    unknown = await sandbox.http.post("/sandbox/share-info", json={"user": "alice", "shareTicket": "made-up"})
    assert unknown.status_code == 404
    nobody = await sandbox.http.post("/sandbox/share-info", json={**body, "user": "nobody"})
    assert nobody.status_code == 404  # no wx.login yet: no session_key to encrypt under
    async with run_sandbox(sandbox_config(appid="wxOther")) as other:
        assert other.state.open_gid_for("跑友群") != sandbox.state.open_gid_for("跑友群")


async def test_codes_expire_after_five_minutes(sandbox):
    code = await sandbox.wx_login("alice")
    await sandbox.control("POST", "/sandbox/clock", json={"advanceSeconds": 299})
    fresh = await sandbox.wx_login("alice")
    await sandbox.control("POST", "/sandbox/clock", json={"advanceSeconds": 2})
    assert (await sandbox.http.get("/sns/jscode2session", params=session_query(code))).json()["errcode"] == 40029
    assert "openid" in (await sandbox.http.get("/sns/jscode2session", params=session_query(fresh))).json()


async def test_jscode2session_minute_quota():
    async with run_sandbox(sandbox_config(jscode2session_per_minute=2)) as sandbox:
        codes = [await sandbox.wx_login("alice") for _ in range(4)]
        answers = [(await sandbox.http.get("/sns/jscode2session", params=session_query(c))).json() for c in codes[:3]]
        assert [a.get("errcode", 0) for a in answers] == [0, 0, 45011]
        await sandbox.control("POST", "/sandbox/clock", json={"advanceSeconds": 61})
        # The refused code was not spent.
        assert "openid" in (await sandbox.http.get("/sns/jscode2session", params=session_query(codes[2]))).json()


async def test_stable_token_normal_and_forced(sandbox):
    first = await stable_token(sandbox)
    assert first["expires_in"] in (7199, 7200)
    assert (await stable_token(sandbox))["access_token"] == first["access_token"]
    forced = await stable_token(sandbox, force_refresh=True)
    assert forced["access_token"] != first["access_token"]
    assert sandbox.state.check_token(first["access_token"]) == 40001  # the old one is dead at once
    assert sandbox.state.check_token(forced["access_token"]) == 0
    await sandbox.control("POST", "/sandbox/clock", json={"advanceSeconds": 7201})
    assert sandbox.state.check_token(forced["access_token"]) == 42001
    assert (await stable_token(sandbox))["access_token"] != forced["access_token"]
    assert (await stable_token(sandbox, secret="nope"))["errcode"] == 40125
    assert (await stable_token(sandbox, appid="wxnope"))["errcode"] == 40013
    assert (await stable_token(sandbox, grant_type="password"))["errcode"] == 40002
    assert (await stable_token(sandbox, force_refresh="yes"))["errcode"] == 47001
    bad = await sandbox.http.post("/cgi-bin/stable_token", content=b"{not json")
    assert bad.json()["errcode"] == 47001
    stats = await sandbox.stats()
    assert stats["tokens_issued"] == 3 and stats["force_refresh"] == 1


async def test_calls_need_a_valid_access_token(sandbox):
    for token, errcode in ((None, 41001), ("made-up", 40001)):
        params = {"access_token": token} if token else {}
        answer = await sandbox.http.post("/wxa/business/getuserphonenumber", params=params, json={"code": "x"})
        assert answer.json()["errcode"] == errcode


async def test_phone_number_answer(sandbox):
    token = (await stable_token(sandbox))["access_token"]
    await sandbox.wx_login("alice")
    code = (await sandbox.control("POST", "/sandbox/phone-code", json={"user": "alice", "countryCode": "852",
                                                                       "phoneNumber": "61234567"}))["code"]  # fmt: skip
    url, params = "/wxa/business/getuserphonenumber", {"access_token": token}
    info = (await sandbox.http.post(url, params=params, json={"code": code})).json()["phone_info"]
    assert info["phoneNumber"] == "+852 61234567" and info["purePhoneNumber"] == "61234567"
    assert info["countryCode"] == "852" and info["watermark"]["appid"] == APPID
    assert (await sandbox.http.post(url, params=params, json={"code": code})).json()["errcode"] == 40163
    unknown = await sandbox.http.post("/sandbox/phone-code", json={"user": "nobody"})
    assert unknown.status_code == 404


async def test_msg_sec_check_shapes_and_limits(sandbox):
    token = (await stable_token(sandbox))["access_token"]
    await sandbox.wx_login("alice")
    openid = sandbox.state.openid_for("alice")

    async def check(**body) -> dict:
        full = {"version": 2, "scene": 2, "openid": openid, "content": "hello", **body}
        return (await sandbox.http.post("/wxa/msg_sec_check", params={"access_token": token}, json=full)).json()

    ok = await check()
    assert ok["result"] == {"suggest": "pass", "label": 100} and ok["trace_id"]
    risky = await check(content="这里有赌博")  # the default risky list (SANDBOX_RISKY_WORDS)
    assert risky["result"] == {"suggest": "risky", "label": 20006}
    assert risky["detail"][1]["keyword"] == "赌博"
    assert (await check(content="sandbox-review"))["result"]["suggest"] == "review"
    assert (await check(version=1))["errcode"] == 47001
    assert (await check(scene=9))["errcode"] == 47001
    assert (await check(content=" "))["errcode"] == 44004
    assert (await check(content="x" * 2501))["errcode"] == 45002
    assert (await check(openid="o-unknown"))["errcode"] == 40003


async def test_unlimited_mini_program_code_answers_a_png_or_an_errcode(sandbox):
    token = (await stable_token(sandbox))["access_token"]

    async def draw(**body):
        full = {"scene": "42.q3V9xk2LmP0a", "page": "pages/join/index", **body}
        return await sandbox.http.post("/wxa/getwxacodeunlimit", params={"access_token": token}, json=full)

    drawn = await draw(width=100)
    assert drawn.headers["content-type"] == "image/png" and drawn.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert drawn.content == (await draw(width=280)).content  # clamped to WeChat's least width; equal asks, equal codes
    assert drawn.content != (await draw(scene="43.q3V9xk2LmP0a", width=280)).content
    assert (await draw(scene="x" * 33)).json()["errcode"] == 40169
    assert (await draw(scene="")).json()["errcode"] == 40169
    assert (await draw(page="admin/secret")).json()["errcode"] == 41030
    assert (await draw(page="admin/secret", check_path=False)).headers["content-type"] == "image/png"
    unauthorised = await sandbox.http.post("/wxa/getwxacodeunlimit", json={"scene": "1"})
    assert unauthorised.json()["errcode"] == 41001


async def test_faults_hit_wechat_endpoints_only(sandbox):
    await sandbox.fault("busy", count=2)
    assert (await stable_token(sandbox))["errcode"] == -1
    assert (await sandbox.stats()) == {}  # the control call was not affected, and WeChat did nothing
    assert (await stable_token(sandbox))["errcode"] == -1
    assert "access_token" in await stable_token(sandbox)

    await sandbox.fault("http500", path_prefix="/v3/")  # e.g. only WeChat Pay
    assert "access_token" in await stable_token(sandbox)
    await sandbox.control("DELETE", "/sandbox/faults")

    await sandbox.fault("http500", count=1)
    assert (await sandbox.http.post("/cgi-bin/stable_token", json={})).status_code == 500

    await sandbox.fault("slow", delay=0.3, count=1)
    started = time.perf_counter()
    assert "access_token" in await stable_token(sandbox)
    assert time.perf_counter() - started >= 0.3


async def test_control_calls_validate_their_input(sandbox):
    assert (await sandbox.http.post("/sandbox/wx-login", json={"user": ""})).status_code == 400
    assert (await sandbox.http.post("/sandbox/faults", json={"mode": "explode"})).status_code == 400
    assert (await sandbox.http.get("/sandbox/users/nobody")).status_code == 404
    await sandbox.wx_login("alice")
    user = (await sandbox.http.get("/sandbox/users/alice")).json()
    assert user == {"user": "alice", "openid": sandbox.state.openid_for("alice"), "unionid": None}


async def test_sandbox_refuses_unknown_paths(sandbox):
    assert (await sandbox.http.get("/cgi-bin/nothing")).status_code == 404
    with pytest.raises(httpx.HTTPStatusError):
        await sandbox.control("GET", "/sandbox/nothing")


async def test_the_sandbox_leaves_the_logging_set_up_alone():
    # Found by the log scan: Litestar's default logging config replaced the root handlers when the sandbox
    # started, so `python -m service sandbox` (and every test beside it) lost the JSON lines of service.logs.
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    async with run_sandbox():
        assert (list(root.handlers), root.level) == before
