"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
from typing import Literal

import msgspec
from litestar import Controller, get
from litestar.datastructures import State

from service.db import migrate as migrations
from service.errors import HTTP, Problem


class Health(msgspec.Struct, frozen=True):
    status: Literal["ok"]


class Readiness(msgspec.Struct, frozen=True):
    status: Literal["ready"]
    migration: int


class HealthController(Controller):
    tags = ["health"]

    @get("/healthz", operation_id="healthz", summary="Liveness: the process is up")
    async def healthz(self) -> Health:
        return Health(status="ok")

    @get(
        "/readyz",
        operation_id="readyz",
        summary="Readiness: the database answers, migrations are current and the instance is not stopping",
        responses=HTTP.responses("not_ready"),
    )
    async def readyz(self, state: State) -> Readiness:
        # Stopping soon (service/serving.py): the proxy's health check takes this instance out of rotation.
        if (draining := state.get("draining")) and draining.is_set():
            raise Problem("not_ready", "draining: this instance is stopping", retry_after=5)
        try:
            async with asyncio.timeout(2):
                async with state.pool.acquire() as conn:
                    todo = await migrations.pending(conn)
                    current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
        except Exception as exc:
            raise Problem("not_ready", f"database unavailable: {type(exc).__name__}", retry_after=5) from None
        if todo:
            raise Problem("not_ready", f"{len(todo)} migration(s) pending", retry_after=5)
        return Readiness(status="ready", migration=current)
