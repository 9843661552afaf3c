"""Job kinds (each domain declares a `Registry` of its own) and enqueueing jobs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from service.jobs import queries
from service.settings import Settings

log = logging.getLogger("service.jobs")


@dataclass(frozen=True)
class JobContext:
    """What a handler may use: the pool (open its own transactions), settings, the shared HTTP client and
    the services built on it (e.g. `services["pay"]`, the WeChat Pay client)."""

    pool: asyncpg.Pool
    settings: Settings
    http: httpx.AsyncClient
    services: dict[str, Any] = field(default_factory=dict)
    job_id: int = 0
    attempt: int = 0


Handler = Callable[[JobContext, dict], Awaitable[None]]


class Reschedule(Exception):
    """Raised by a handler that has nothing to do yet: run again in `delay` seconds (not a failure)."""

    def __init__(self, delay: float) -> None:
        self.delay = max(0.0, delay)
        super().__init__(f"reschedule in {self.delay:.0f} s")


class Registry:
    """Job kinds and their handlers. Handlers must be idempotent: a job may run more than once (a worker
    killed after the work but before marking it done)."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.periodic: dict[str, float] = {}  # kind -> seconds between runs

    def register(self, kind: str, handler: Handler, every: float | None = None) -> Handler:
        if self.handlers.get(kind, handler) is not handler:
            raise ValueError(f"job kind {kind!r} is already registered")
        self.handlers[kind] = handler
        if every is not None:
            self.periodic[kind] = every
        return handler

    def job(self, kind: str, *, every: float | None = None) -> Callable[[Handler], Handler]:
        """Register a handler; with `every`, a periodic job: workers keep one queued and run it again
        `every` seconds after each successful run."""
        return lambda handler: self.register(kind, handler, every)


async def enqueue(
    conn: asyncpg.Connection,
    kind: str,
    payload: dict | None = None,
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 12,
    again: bool = True,
) -> int | None:
    """Add a job (in the caller's transaction); its id. With `dedupe_key`, a key already queued is kept, and one
    running goes again once it finishes (by `run_at`; not with `again=False`, for a sweep that only makes sure a
    job exists): None either way."""
    row = await conn.fetchrow(queries.ENQUEUE, kind, payload or {}, run_at, dedupe_key, max_attempts, again)
    return row["id"] if row is not None and row["added"] else None
