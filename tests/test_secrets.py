"""Nothing secret in the logs or the answers of a whole run: logins, refreshes (and a reuse), logout, phone
binding, open data decrypted with the session_key, payments, refunds and a merchant transfer in the Pay
sandbox, and the seeded community's every kind of row (tests/seed.py).

The run logs through the production configuration (JSON lines, `service.logs`) at DEBUG; every line and
every answer is then searched for the session_keys, access and refresh tokens, the JWT secret, the APIv3 key,
the merchant's and the platform's private keys, and phone numbers in full. Tokens may appear only in the
answers that hand them out; a phone number only in its owner's own profile.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import logging.config
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from service.core.open_data import open_data
from service.db.pool import connect
from service.logs import JsonFormatter, logging_config
from service.wechat.pay import private_pem
from service.wechat.sealing import SessionKeySealer
from tests.seed import User, build, seeder_for
from tests.stack import full_stack

PHONE = "13912345678"  # bound by the member; also typed into a delivery note
TOKEN_ANSWERS = ("/v1/auth/login", "/v1/auth/refresh")
OWN_PROFILE = ("/v1/me", "/v1/auth/phone", "/v1/auth/login")


@dataclass
class Capture:
    logs: io.StringIO = field(default_factory=io.StringIO)
    answers: list[tuple[httpx.Request, str]] = field(default_factory=list)

    async def record(self, response: httpx.Response) -> None:
        await response.aread()
        self.answers.append((response.request, response.text))


@contextlib.contextmanager
def json_logs() -> Iterator[io.StringIO]:
    """The production logging set-up at DEBUG, written to a buffer (the sandbox emulates WeChat: not ours)."""
    config = logging_config("DEBUG")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(lambda record: not record.name.startswith("service.wechat.sandbox"))
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in config["loggers"]}
    root.setLevel(logging.DEBUG)
    for name, logger in config["loggers"].items():
        logging.getLogger(name).setLevel(logger["level"])
    root.addHandler(handler)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)


async def run_everything(stack, seeder, capture: Capture) -> dict[str, User]:
    """Everything that handles a secret, once; the answers are captured by the seeder's client."""
    seeded = await build(seeder)
    users, ids, s = seeded.users, seeded.ids, seeder
    member = users["member"]
    code = await stack.sandbox.phone_code(member.name, PHONE)
    await s.call("POST", "/v1/auth/phone", member, json={"code": code})
    await s.call("GET", "/v1/me", member)

    refreshed = await s.call("POST", "/v1/auth/refresh", None, json={"refreshToken": member.tokens["refreshToken"]})
    await s.call("POST", "/v1/auth/refresh", None, (401,), json={"refreshToken": member.tokens["refreshToken"]})
    await s.call("POST", "/v1/auth/logout", None, (204,), json={"refreshToken": refreshed["refreshToken"]})

    # Open data: sealed by the sandbox under the member's session_key, opened by the service with it.
    again = await s.user(member.name)
    sealed = await stack.sandbox.control("POST", "/sandbox/open-data", json={"user": member.name, "data": {"x": 1}})
    conn = await connect(stack.settings.database_url)
    try:
        opened = await open_data(
            conn,
            SessionKeySealer(stack.settings),
            int(again.id),
            sealed["encryptedData"],
            sealed["iv"],
            raw_data=sealed["rawData"],
            signature=sealed["signature"],
        )
    finally:
        await conn.close()
    assert opened["x"] == 1

    # Money both ways: a payer's own refund, an admin's refund, a delivery note holding a phone number.
    await s.call("POST", f"/v1/orders/{ids['order_id']}/refund", users["author"], json={"reason": "不想参加了"})
    payer = await s.user(f"payer-{uuid.uuid4().hex[:6]}")
    entry = await s.join(payer, seeded.extra["paid_community_id"])
    refund = f"/v1/communities/{seeded.extra['paid_community_id']}/orders/{entry['order']['id']}/refund"
    await s.call("POST", refund, users["owner"], json={"reason": "活动取消"})
    note = {"deliveryNote": f"上海市徐汇区某路 1 号 张三 {PHONE}"}
    await s.call("POST", f"/v1/trials/{ids['trial_id']}/claim", users["author"], json=note)
    await s.call("GET", f"/v1/polls/{seeded.extra['closed_poll_id']}/trials", users["admin"])
    await s.run_due_jobs()
    return {**users, "again": again, "payer": payer, "refreshed": User(member.id, member.name, refreshed)}


def secrets_of(stack, pay_keys, users: dict[str, User]) -> dict[str, list[str]]:
    pem_lines = [
        line
        for key in (pay_keys.merchant_key, pay_keys.platform_key)
        for line in private_pem(key).splitlines()
        if line and not line.startswith("-----")
    ]
    session_keys = [user.session_key for user in stack.sandbox.state.users.values()]
    return {
        "session_key": session_keys + [base64.b64decode(k).hex() for k in session_keys],
        "signing secret": [stack.settings.secret_key],
        "APIv3 key": [pay_keys.apiv3_key],
        "private key": pem_lines,
        "token": [t for u in users.values() for t in (u.tokens["accessToken"], u.tokens["refreshToken"])],
    }


async def test_no_secret_in_logs_or_answers(database_url, pay_keys):
    capture = Capture()
    async with full_stack(database_url, pay_keys, newcomer_hours=0) as stack, seeder_for(stack) as seeder:
        seeder.api.event_hooks["response"].append(capture.record)
        with json_logs() as buffer:
            users = await run_everything(stack, seeder, capture)
        secrets = secrets_of(stack, pay_keys, users)
    logs = buffer.getvalue()
    assert all(secrets.values()) and len(secrets["token"]) >= 2 * len(users)
    assert logs.count("\n") > 50 and '"logger":"service.access"' in logs  # the run did log, as JSON lines

    for what, values in secrets.items():
        for value in values:
            assert value not in logs, f"{what} in the logs"
    # Any mainland mobile number, outside the random request ids.
    values = [json.dumps({k: v for k, v in json.loads(line).items() if k != "requestId"}) for line in logs.splitlines()]
    assert not [v for v in values if re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", v)], "a phone number in the logs"

    own_tokens = tuple(users[name].tokens["accessToken"] for name in ("member", "again"))
    for request, text in capture.answers:
        where = f"{request.method} {request.url.path}"
        for what, values in secrets.items():
            if what == "token" and request.url.path in TOKEN_ANSWERS:
                continue
            for value in values:
                assert value not in text, f"{what} in the answer to {where}"
        if PHONE in text:
            # Its owner's profile (the login answer goes to whoever holds the wx.login code), and the delivery
            # note typed into a trial claim, which the holder and the community's admins read.
            own = request.headers.get("authorization", "").endswith(own_tokens) or request.url.path == "/v1/auth/login"
            delivery = request.url.path.endswith(("/trials", "/claim"))
            assert (own and request.url.path in OWN_PROFILE) or delivery, f"the phone number in {where}"
