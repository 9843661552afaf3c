"""Hooks: how a domain reacts to another domain's event without importing it.

The core declares each event and calls the handlers the domains declare (`Domain.on_published`), in the
transaction of the event. `install_hooks` puts the handlers of the one domain list in force at start-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Published:
    """A member's post or comment became visible (at once, or after a re-check)."""

    community_id: int
    post_id: int
    author_id: int
    text: str
    comment_id: int | None = None
    thread_id: int | None = None  # the top comment of a reply's thread


OnPublished = Callable[[asyncpg.Connection, Published], Awaitable[None]]

_on_published: list[OnPublished] = []


def install_hooks(on_published: Sequence[OnPublished]) -> None:
    _on_published[:] = on_published


async def published(conn: asyncpg.Connection, event: Published) -> None:
    """Call every handler of the event in the caller's transaction (the keyword robot answers here)."""
    for handler in _on_published:
        await handler(conn, event)
