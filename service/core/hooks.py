"""Hooks: how a domain reacts to another domain's event without importing it.

The core declares each event and calls the handlers the domains declare (`Domain.on_published`), in the
transaction of the event. `install_hooks` puts the handlers of the one domain list in force at start-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg

E = TypeVar("E")


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


class Hook(Generic[E]):
    """One event's handlers, called in order in the caller's transaction; ``declared_as`` is the `Domain` field
    that lists them."""

    def __init__(self, declared_as: str) -> None:
        self.declared_as = declared_as
        self.handlers: list[Callable[[asyncpg.Connection, E], Awaitable[None]]] = []

    async def __call__(self, conn: asyncpg.Connection, event: E) -> None:
        for handler in self.handlers:
            await handler(conn, event)


published = Hook[Published]("on_published")  # the keyword robot answers, live updates tell the community
media_verdict = Hook[MediaVerdict]("on_media_verdict")  # the media domain applies WeChat's verdict
media_decided = Hook[MediaDecided]("on_media_decided")  # the feed shows or refuses the posts of the image
moderated = Hook[Moderated]("on_moderated")  # the feed applies the decision
sanctioned = Hook[Sanctioned]("on_sanctioned")  # communities mutes, removes, delists
community_opened = Hook[CommunityOpened]("on_community_opened")  # robots copy keyword rules

HOOKS: tuple[Hook, ...] = (published, media_verdict, media_decided, moderated, sanctioned, community_opened)


def install_hooks(domains: Sequence[Any]) -> None:
    """Put in force the handlers the domains declare, in the order of the list."""
    for hook in HOOKS:
        hook.handlers[:] = [handler for domain in domains for handler in getattr(domain, hook.declared_as)]
