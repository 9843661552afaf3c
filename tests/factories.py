"""Rows for tests, made with plain SQL: users (until WeChat login exists) with real access tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from service.core.tokens import issue_access_token
from service.settings import Settings


@dataclass(frozen=True)
class User:
    id: int
    nickname: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


_INSERT_USERS = """
INSERT INTO users (appid, openid, nickname)
SELECT 'wx-test-app', 'o-' || gen_random_uuid()::text, nickname FROM unnest($1::text[]) AS nickname
RETURNING id, nickname
"""


async def create_users(database_url: str, settings: Settings, *nicknames: str) -> list[User]:
    """One user per nickname, each with a bearer token the guard accepts."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(_INSERT_USERS, list(nicknames))
    finally:
        await conn.close()
    return [User(row["id"], row["nickname"], issue_access_token(settings, row["id"])) for row in rows]


async def create_user(database_url: str, settings: Settings, nickname: str | None = None) -> User:
    (user,) = await create_users(database_url, settings, nickname or f"user-{uuid.uuid4().hex[:6]}")
    return user


async def create_community(client, owner: User, **fields) -> dict:
    """A community over the API (owner = ``owner``); fields are camelCase as on the wire."""
    body = {"name": f"community {uuid.uuid4().hex[:6]}", **fields}
    response = await client.post("/v1/communities", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def join(client, user: User, community_id: str, **body) -> dict:
    response = await client.post(f"/v1/communities/{community_id}/join", json=body, headers=user.headers)
    assert response.status_code in (200, 201, 202), response.text
    return response.json()
