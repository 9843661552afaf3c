"""A community with an owner, an admin and members, all logged in through the WeChat sandbox, and helpers
to open polls, move their deadlines and run the deadline jobs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from service.core.domain import job_registry
from service.db.pool import connect, create_pool
from service.domains import DOMAINS
from service.jobs import JobContext
from service.jobs.worker import Worker
from service.settings import Settings
from tests.wechat_support import Sandbox
from tests.world import Member, sign_in


def poll_body(**fields: Any) -> dict:
    """A poll to open now: proposals for an hour, votes for an hour more; ``fields`` override."""
    now = datetime.now(UTC)
    return {
        "title": "新款冷萃咖啡",
        "description": "帮新品起个名字",
        "proposalsCloseAt": (now + timedelta(hours=1)).isoformat(),
        "votingCloseAt": (now + timedelta(hours=2)).isoformat(),
        **fields,
    }


@dataclass
class World:
    client: httpx.AsyncClient
    sandbox: Sandbox
    settings: Settings
    database_url: str
    community_id: str
    owner: Member
    admin: Member
    members: list[Member] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def db(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await connect(self.database_url)
        try:
            yield conn
        finally:
            await conn.close()

    async def member(self, name: str, community_id: str | None = None) -> Member:
        """Log in as ``name`` and join the community (or another one)."""
        someone = await sign_in(self.client, self.sandbox, name)
        joined = await self.client.post(
            f"/v1/communities/{community_id or self.community_id}/join", headers=someone.headers
        )
        assert joined.status_code == 201, joined.text
        return someone

    async def open_poll(self, by: Member | None = None, community_id: str | None = None, **fields: Any) -> dict:
        body = poll_body(**fields)
        response = await self.client.post(
            f"/v1/communities/{community_id or self.community_id}/polls", json=body, headers=(by or self.owner).headers
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def propose(self, who: Member, poll_id: str, name: str) -> httpx.Response:
        return await self.client.post(f"/v1/polls/{poll_id}/proposals", json={"name": name}, headers=who.headers)

    async def proposal(self, who: Member, poll_id: str, name: str) -> str:
        response = await self.propose(who, poll_id, name)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def vote(self, who: Member, poll_id: str, proposal_id: str) -> httpx.Response:
        return await self.client.post(
            f"/v1/polls/{poll_id}/votes", json={"proposalId": proposal_id}, headers=who.headers
        )

    async def voted(self, who: Member, poll_id: str, proposal_id: str) -> None:
        response = await self.vote(who, poll_id, proposal_id)
        assert response.status_code == 201, response.text

    async def advance(self, poll_id: str, by: Member | None = None) -> httpx.Response:
        return await self.client.post(f"/v1/polls/{poll_id}/advance", headers=(by or self.owner).headers)

    async def close(self, poll_id: str, by: Member | None = None) -> dict:
        response = await self.client.post(f"/v1/polls/{poll_id}/close", headers=(by or self.owner).headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def poll(self, poll_id: str, who: Member | None = None) -> dict:
        response = await self.client.get(f"/v1/polls/{poll_id}", headers=(who or self.owner).headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def pass_deadline(self, poll_id: str, phase: str) -> None:
        """Move a deadline (and its job) into the past, as if the time had come."""
        async with self.db() as conn:
            if phase == "proposals":
                await conn.execute(
                    "UPDATE polls SET proposals_close_at = now() - interval '1 second' WHERE id = $1", int(poll_id)
                )
            else:
                await conn.execute(
                    "UPDATE polls SET proposals_close_at = least(proposals_close_at, now() - interval '2 seconds'),"
                    " voting_close_at = now() - interval '1 second' WHERE id = $1",
                    int(poll_id),
                )
            key = f"poll:{poll_id}:{'voting' if phase == 'proposals' else 'close'}"
            await conn.execute("UPDATE jobs SET run_at = now() WHERE dedupe_key = $1", key)

    async def run_jobs(self) -> int:
        """Run every due job with the real worker until none is left; how many ran."""
        pool = await create_pool(self.settings)
        try:
            worker = Worker(
                JobContext(pool=pool, settings=self.settings, http=self.client),
                job_registry(DOMAINS),
                poll_interval=0.01,
            )
            ran = 0
            while count := await worker.run_once():
                ran += count
            errors = await pool.fetch("SELECT kind, last_error FROM jobs WHERE last_error IS NOT NULL")
            assert not errors, [dict(e) for e in errors]
            return ran
        finally:
            await pool.close()


@pytest.fixture
async def world(client, sandbox, settings, database_url) -> World:
    owner = await sign_in(client, sandbox, "owner")
    created = await client.post("/v1/communities", json={"name": "咖啡爱好者"}, headers=owner.headers)
    assert created.status_code == 201, created.text
    community_id = created.json()["id"]
    world = World(client, sandbox, settings, database_url, community_id, owner, owner)
    world.admin = await world.member("admin")
    promoted = await client.put(
        f"/v1/communities/{community_id}/members/{world.admin.id}", json={"role": "admin"}, headers=owner.headers
    )
    assert promoted.status_code == 200, promoted.text
    world.members = [await world.member(name) for name in ("carol", "dave", "erin", "frank")]
    return world
