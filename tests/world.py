"""What every test world shares: a member as the tests hold one, signing in through the sandbox, and the one
check of a problem answer. The worlds of each area (tests/feed, tests/polls, tests/operating, tests/media,
tests/checkout) add their own helpers on top."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.wechat_support import Sandbox, bearer, login


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    headers: dict[str, str]
    openid: str = ""


async def sign_in(client: httpx.AsyncClient, sandbox: Sandbox, name: str, *, nickname: bool = False) -> Member:
    """Log in as ``name`` through the sandbox (a real visit: WeChat's content checks accept the member);
    with ``nickname`` the member also takes their name as nickname."""
    tokens = await login(client, sandbox.url, name)
    headers = bearer(tokens)
    if nickname:
        renamed = await client.put("/v1/me", json={"nickname": name}, headers=headers)
        assert renamed.status_code == 200, renamed.text
    openid = (await sandbox.control("GET", f"/sandbox/users/{name}"))["openid"]
    return Member(int(tokens["user"]["id"]), name, headers, openid)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:
    """A problem+json answer with this status and code, its title and the request id of its header."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["title"]
    assert body["requestId"] == response.headers["x-request-id"]
    return body


async def notices(client: httpx.AsyncClient, headers: dict[str, str], kind: str) -> list[dict]:
    """The member's inbox items of one kind, newest first (the first page)."""
    response = await client.get("/v1/me/notifications", params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return [item for item in response.json()["items"] if item["kind"] == kind]
