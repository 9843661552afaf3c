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


@dataclass(frozen=True)
class MediaVerdict:
    """WeChat's image check answered (the `wxa_media_check` push, matched by `trace_id`)."""

    trace_id: str
    suggest: str  # pass, review or risky; empty when WeChat could not check the image (errcode != 0)
    label: int | None = None


@dataclass(frozen=True)
class MediaDecided:
    """A stored image's check ended: `approved`, `rejected` (with WeChat's label) or `review` (held)."""

    sha256: str
    status: str
    label: int | None = None


OnPublished = Callable[[asyncpg.Connection, Published], Awaitable[None]]
OnMediaVerdict = Callable[[asyncpg.Connection, MediaVerdict], Awaitable[None]]
OnMediaDecided = Callable[[asyncpg.Connection, MediaDecided], Awaitable[None]]

_on_published: list[OnPublished] = []
_on_media_verdict: list[OnMediaVerdict] = []
_on_media_decided: list[OnMediaDecided] = []


def install_hooks(
    on_published: Sequence[OnPublished],
    on_media_verdict: Sequence[OnMediaVerdict] = (),
    on_media_decided: Sequence[OnMediaDecided] = (),
) -> None:
    _on_published[:] = on_published
    _on_media_verdict[:] = on_media_verdict
    _on_media_decided[:] = on_media_decided


async def published(conn: asyncpg.Connection, event: Published) -> None:
    """Call every handler of the event in the caller's transaction (the keyword robot answers here)."""
    for handler in _on_published:
        await handler(conn, event)


async def media_verdict(conn: asyncpg.Connection, event: MediaVerdict) -> None:
    """Call every handler of an image verdict in the caller's transaction (the media domain applies it)."""
    for handler in _on_media_verdict:
        await handler(conn, event)


async def media_decided(conn: asyncpg.Connection, event: MediaDecided) -> None:
    """Call every handler of a decided image in the caller's transaction (the feed shows or refuses posts)."""
    for handler in _on_media_decided:
        await handler(conn, event)
