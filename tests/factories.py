"""Rows for tests, made with plain SQL: users (until WeChat login exists) with real access tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from service.core.tokens import issue_access_token
from service.settings import Settings
from tests.support import http_client


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
SELECT 'wx-test-app', coalesce(openid, 'o-' || gen_random_uuid()::text), nickname
FROM unnest($1::text[], $2::text[]) AS u (nickname, openid)
RETURNING id, nickname
"""


async def _sandbox_openids(settings: Settings, count: int) -> list[str | None]:
    """Openids of new users the WeChat sandbox has just seen open the mini program, so that its content check
    (msg_sec_check, which answers 40003 for an openid it does not know) takes their texts; without a sandbox
    (WeChat's real address) the users get made-up openids."""
    base = settings.wechat_api_base
    if not base.startswith("http://127.0.0.1:"):
        return [None] * count
    async with http_client(base_url=base, timeout=10) as http:
        openids = []
        for _ in range(count):
            answer = await http.post("/sandbox/wx-login", json={"user": f"t-{uuid.uuid4().hex}"})
            answer.raise_for_status()
            openids.append(answer.json()["openid"])
    return openids


async def create_users(database_url: str, settings: Settings, *nicknames: str) -> list[User]:
    """One user per nickname, each with a bearer token the guard accepts, known to the WeChat sandbox."""
    openids = await _sandbox_openids(settings, len(nicknames))
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(_INSERT_USERS, list(nicknames), openids)
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


async def upload_photo(client, user: User, purpose: str = "post", color: tuple[int, int, int] = (180, 60, 40)) -> str:
    """A photo uploaded as wx.uploadFile sends it (POST /v1/media); its media id. Without a worker WeChat never
    checks it: what carries it stays pending."""
    from tests.media.conftest import phone_photo

    files = {"file": ("tmp_1.jpg", phone_photo(color=color), "image/jpeg")}
    response = await client.post("/v1/media", files=files, data={"purpose": purpose}, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def approve_photo(db, media_id: str) -> None:
    """What WeChat's `pass` verdict leaves behind, for tests whose subject is not the image check (tests/media)."""
    await db.execute(
        "UPDATE media_objects o SET status = 'approved', checked_at = now() FROM media m "
        "WHERE m.id = $1 AND o.sha256 = m.object_sha256",
        int(media_id),
    )
