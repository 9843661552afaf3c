"""Problems for people: every code has a member-readable message in Chinese and in English, chosen by
Accept-Language, with a hint of what the client should do; a refused text says what WeChat found."""

from __future__ import annotations

import re

from service.core.domain import problem_table
from service.domains import DOMAINS
from service.errors import ACTIONS
from service.messages import CONTENT_LABELS, USER_MESSAGES, prefers_english, user_message
from tests.wechat_support import bearer, login

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_code_has_a_chinese_and_an_english_message():
    codes = set(problem_table(DOMAINS))
    assert sorted(codes - set(USER_MESSAGES)) == [], "codes without a message"
    assert sorted(set(USER_MESSAGES) - codes) == [], "messages for codes nobody declares"
    for code, (zh, en) in USER_MESSAGES.items():
        assert CJK.search(zh) and not CJK.search(en) and en.isascii(), code
        assert not re.search(r"[a-z]+_[a-z_]+", zh + en), f"{code}: a message for people names no code"
    for label, (zh, en) in CONTENT_LABELS.items():
        assert CJK.search(zh) and en.isascii(), label


def test_english_only_when_the_request_prefers_it():
    assert not prefers_english(None)
    assert not prefers_english("zh-CN,zh;q=0.9,en;q=0.8")
    assert prefers_english("en-US,en;q=0.9")
    assert prefers_english("fr-FR, en;q=0.5, zh;q=0.4")
    assert not prefers_english("en;q=0, zh")
    assert not prefers_english("en;q=bogus, zh")
    assert user_message("content_rejected", False, 20006) == CONTENT_LABELS[20006][0]
    assert user_message("content_rejected", True, 12345) == USER_MESSAGES["content_rejected"][1]


async def test_problems_carry_the_members_message_and_what_to_do(client):
    answer = await client.get("/v1/me")
    body = answer.json()
    assert answer.status_code == 401 and body["code"] == "unauthorized"
    assert body["userMessage"] == USER_MESSAGES["unauthorized"][0]
    assert body["action"] == "refresh" and body["action"] in ACTIONS
    english = (await client.get("/v1/me", headers={"Accept-Language": "en-GB,en;q=0.9"})).json()
    assert english["userMessage"] == USER_MESSAGES["unauthorized"][1]
    missing = (await client.get("/v1/communities/999999999", headers={"authorization": "Bearer x"})).json()
    assert missing["action"] == "refresh"


async def test_a_refused_text_says_what_wechat_found(client, sandbox):
    tokens = await login(client, sandbox.url, "alice")
    created = await client.post("/v1/communities", json={"name": "跑步"}, headers=bearer(tokens))
    assert created.status_code == 201, created.text
    url = f"/v1/communities/{created.json()['id']}/posts"
    refused = await client.post(url, json={"text": "一起赌博吧"}, headers=bearer(tokens))
    assert refused.status_code == 422 and refused.json()["code"] == "content_rejected"
    assert refused.json()["userMessage"] == CONTENT_LABELS[20006][0]
    assert refused.json()["action"] == "show"
