"""Live updates, published by every domain: an event for members' open sockets (service/live serves them).

`publish` sends it with pg_notify in the writer's transaction, so it leaves when the transaction commits and
never when it rolls back. Every API process LISTENs on one connection and hands each event to its sockets
that follow a target: ``community(id)`` (the community's members) or ``user(id)`` (that member's sockets).
Events are small (ids and counts, never content): the client reads what it may see through the API.
`departed`, `joined` and `blocks` are no events but word for the hubs: a member's sockets stop following a community
they left, start following one they joined, and stop (or start again) hearing of a member they blocked (unblocked).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import msgspec

CHANNEL = "live"
# A NOTIFY payload holds at most 8000 bytes: recipients go out in batches that fit.
BATCH = 400


def community(community_id: int) -> str:
    return f"c{community_id}"


def user(user_id: int) -> str:
    return f"u{user_id}"


async def publish(conn: asyncpg.Connection, targets: Sequence[str], event: dict) -> None:
    """Send ``event`` (camelCase keys, ids as strings, a `type`) to the sockets following any of ``targets``."""
    for start in range(0, len(targets), BATCH):
        await _notify(conn, {"to": list(targets[start : start + BATCH]), "event": event})


async def departed(conn: asyncpg.Connection, user_id: int, community_id: int) -> None:
    """The member left or was removed from the community: on commit, every hub drops the community from what the
    member's sockets follow before it hands on any event committed later, then re-reads their memberships."""
    await _notify(conn, {"to": [user(user_id)], "departed": community_id})


async def joined(conn: asyncpg.Connection, user_id: int, community_id: int) -> None:
    """The member was admitted to the community: on commit, every hub adds it to what the member's sockets follow
    before it hands on any event committed later, then re-reads their memberships. Without it an open socket
    waited for the memberships refresh (LIVE_PING_SECONDS, 25 s) before it got the community's posts."""
    await _notify(conn, {"to": [user(user_id)], "joined": community_id})


async def blocks(conn: asyncpg.Connection, user_id: int, other_id: int, blocking: bool) -> None:
    """The member blocked (``blocking``) or unblocked the other: on commit, every hub stops (or resumes) handing the
    member's sockets the events the other wrote (`authorId`) before any event committed later."""
    await _notify(conn, {"to": [user(user_id)], "blocks": other_id, "blocking": blocking})


async def _notify(conn: asyncpg.Connection, message: dict) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, msgspec.json.encode(message).decode())
