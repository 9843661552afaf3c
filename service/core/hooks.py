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


@dataclass(frozen=True)
class Moderated:
    """A moderation decision on a member's post or comment (`kind` post or comment): `hide` (distinct reporters
    reached the threshold), `release` (approved: shown again, or at last after WeChat's `review`), `remove`."""

    kind: str
    target_id: int
    action: str


@dataclass(frozen=True)
class Sanctioned:
    """A moderator acts from a moderation case: `mute` the member (`minutes`), `remove` them from the community,
    or `delist` the community. ``actor_id`` None: the platform operator. Refusals raise a Problem."""

    community_id: int
    actor_id: int | None
    action: str
    member_id: int | None = None
    minutes: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class CommunityOpened:
    """A community got settings from elsewhere: a sister opened from its series' template (``source_id``), or a
    community attached to a brand whose defaults include keyword rules (``robot_rules``: keyword, matchMode,
    reply). ``actor_id``: who the copied rules are recorded as created by."""

    community_id: int
    actor_id: int
    source_id: int | None = None
    robot_rules: tuple[dict[str, str], ...] = ()


OnPublished = Callable[[asyncpg.Connection, Published], Awaitable[None]]
OnMediaVerdict = Callable[[asyncpg.Connection, MediaVerdict], Awaitable[None]]
OnMediaDecided = Callable[[asyncpg.Connection, MediaDecided], Awaitable[None]]
OnModerated = Callable[[asyncpg.Connection, Moderated], Awaitable[None]]
OnSanctioned = Callable[[asyncpg.Connection, Sanctioned], Awaitable[None]]
OnCommunityOpened = Callable[[asyncpg.Connection, CommunityOpened], Awaitable[None]]

_on_published: list[OnPublished] = []
_on_media_verdict: list[OnMediaVerdict] = []
_on_media_decided: list[OnMediaDecided] = []
_on_moderated: list[OnModerated] = []
_on_sanctioned: list[OnSanctioned] = []
_on_community_opened: list[OnCommunityOpened] = []


def install_hooks(
    on_published: Sequence[OnPublished],
    on_media_verdict: Sequence[OnMediaVerdict] = (),
    on_media_decided: Sequence[OnMediaDecided] = (),
    on_moderated: Sequence[OnModerated] = (),
    on_sanctioned: Sequence[OnSanctioned] = (),
    on_community_opened: Sequence[OnCommunityOpened] = (),
) -> None:
    _on_published[:] = on_published
    _on_media_verdict[:] = on_media_verdict
    _on_media_decided[:] = on_media_decided
    _on_moderated[:] = on_moderated
    _on_sanctioned[:] = on_sanctioned
    _on_community_opened[:] = on_community_opened


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


async def moderated(conn: asyncpg.Connection, event: Moderated) -> None:
    """Call every handler of a moderation decision in the decision's transaction (the feed applies it)."""
    for handler in _on_moderated:
        await handler(conn, event)


async def sanctioned(conn: asyncpg.Connection, event: Sanctioned) -> None:
    """Call every handler of a sanction in the decision's transaction (communities mutes, removes, delists)."""
    for handler in _on_sanctioned:
        await handler(conn, event)


async def community_opened(conn: asyncpg.Connection, event: CommunityOpened) -> None:
    """Call every handler in the caller's transaction (the robots domain copies keyword rules)."""
    for handler in _on_community_opened:
        await handler(conn, event)
