"""The unread count of live `notification` events, read after their commit.

The writer counts the member's unread items inside its own transaction (core/inbox.py): two items committing at once
for one member each miss the other, and the last event would show the badge one behind. A hub hears an event only
after its transaction committed, so it reads the count again then and sends that. One task reads, for every member
with events waiting, in one statement; events that arrive meanwhile wait for the next read, so the counts a socket
gets follow the order of the reads. When the read fails, the writer's count goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg
import msgspec

from service.core import inbox, live
from service.db.pool import DATABASE_ERRORS

log = logging.getLogger("service.live")


class Badges:
    def __init__(self, pool: asyncpg.Pool, hand: Callable[[str, str], None]) -> None:
        self.pool = pool
        self.hand = hand  # (target, encoded event): to the sockets following the target
        self.waiting: dict[int, list[dict]] = {}  # events by member, oldest first
        self.reader: asyncio.Task | None = None

    def count(self, user_id: int, event: dict) -> None:
        """Send the event once the member's unread count has been read after its commit."""
        self.waiting.setdefault(user_id, []).append(event)
        if self.reader is None or self.reader.done():
            self.reader = asyncio.get_running_loop().create_task(self._read())

    async def stop(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader

    async def _read(self) -> None:
        while self.waiting:
            waiting, self.waiting = self.waiting, {}
            counts: dict[int, int] | None = None
            try:
                async with self.pool.acquire() as conn:
                    counts = await inbox.unread_of(conn, list(waiting))
            except DATABASE_ERRORS as exc:  # the writer's counts then
                log.warning("live unread count failed", extra={"error": repr(exc)})
            for user_id, events in waiting.items():
                for event in events:
                    if counts is not None:
                        event = {**event, "unreadCount": counts.get(user_id, 0)}
                    self.hand(live.user(user_id), msgspec.json.encode(event).decode())
