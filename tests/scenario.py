"""Rows for scripted scenarios, written with plain SQL at chosen times (metrics and rewards tests)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from service.core.interactions import record
from service.core.tokens import issue_access_token
from service.db.pool import connect
from service.settings import Settings


class Factory:
    def __init__(self, conn: asyncpg.Connection, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings

    @classmethod
    async def connect(cls, database_url: str, settings: Settings) -> Factory:
        return cls(await connect(database_url), settings)

    async def close(self) -> None:
        await self.conn.close()

    def token(self, user_id: int) -> str:
        return issue_access_token(self.settings, user_id)

    async def user(self, nickname: str) -> int:
        return await self.conn.fetchval(
            "INSERT INTO users (appid, openid, nickname) VALUES ('test', $1, $1) RETURNING id", nickname
        )

    async def community(self, name: str, owner: int) -> int:
        community_id = await self.conn.fetchval(
            "INSERT INTO communities (name, owner_id, welcome_template, member_count) VALUES ($1, $2, '', 1) "
            "RETURNING id",
            name,
            owner,
        )
        await self.conn.execute(
            "INSERT INTO memberships (community_id, user_id, role, status, via) "
            "VALUES ($1, $2, 'owner', 'active', 'owner')",
            community_id,
            owner,
        )
        return community_id

    async def join(self, community_id: int, user_id: int, at: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO memberships (community_id, user_id, role, status, via, joined_at) "
            "VALUES ($1, $2, 'member', 'active', 'free', $3)",
            community_id,
            user_id,
            at,
        )
        await record(self.conn, community_id, user_id, "join", occurred_at=at)

    async def post(
        self,
        community_id: int,
        author: int | None,
        text: str,
        at: datetime,
        images: list[str] | None = None,
        deleted: bool = False,
    ) -> int:
        post_id = await self.conn.fetchval(
            "INSERT INTO posts (community_id, author_id, robot, kind, text, image_urls, created_at, deleted_at) "
            "VALUES ($1, $2::bigint, CASE WHEN $2::bigint IS NULL THEN 'test' END, 'post', $3, $4, $5, "
            "CASE WHEN $6 THEN $5::timestamptz END) RETURNING id",
            community_id,
            author,
            text,
            images or [],
            at,
            deleted,
        )
        if author is not None:
            await record(self.conn, community_id, author, "post", post_id=post_id, occurred_at=at)
        return post_id

    async def comment(
        self, post_id: int, author: int, text: str, at: datetime, status: str = "visible", recorded: bool = True
    ) -> int:
        community_id = await self.conn.fetchval("SELECT community_id FROM posts WHERE id = $1", post_id)
        comment_id = await self.conn.fetchval(
            "INSERT INTO comments (community_id, post_id, author_id, text, status, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            community_id,
            post_id,
            author,
            text,
            status,
            at,
        )
        if recorded:
            await record(
                self.conn, community_id, author, "comment", post_id=post_id, occurred_at=at, comment_id=comment_id
            )
        return comment_id

    async def like(self, post_id: int, user_id: int, at: datetime) -> None:
        community_id = await self.conn.fetchval("SELECT community_id FROM posts WHERE id = $1", post_id)
        await record(self.conn, community_id, user_id, "like", post_id=post_id, occurred_at=at)

    async def event(self, community_id: int, user_id: int, kind: str, at: datetime) -> None:
        await record(self.conn, community_id, user_id, kind, occurred_at=at)

    async def session(self, community_id: int, user_id: int, start: datetime, end: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO presence_sessions (community_id, user_id, started_at, last_seen_at) VALUES ($1, $2, $3, $4)",
            community_id,
            user_id,
            start,
            end,
        )
