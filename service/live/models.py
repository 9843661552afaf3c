"""The socket's messages, as JSON text frames: what the server sends and what the client may send.

Every message carries a `type`. Events are small on purpose: ids and counts, never content, so the client
reads what it may see through the API (the feed and the inbox apply blocks, moderation and membership).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

Id = Annotated[str, Meta(pattern=r"^[1-9][0-9]{0,15}$(?!\n)", examples=["42"], description="An id")]


class LiveReady(msgspec.Struct, tag="ready", tag_field="type", rename="camel", kw_only=True):
    """Sent once the socket is open: who I am and how often to expect a `ping`."""

    user_id: Id
    ping_seconds: Annotated[float, Meta(examples=[25.0], description="The server pings this often")]


class LivePost(msgspec.Struct, tag="post", tag_field="type", rename="camel", kw_only=True):
    """A post became visible in a community I am a member of (my own included, never one by a member I blocked):
    catch up with the feed's `since`, or fetch it (`GET /v1/posts/{postId}`)."""

    community_id: Id
    post_id: Id
    author_id: Id | None = None


class LiveComment(msgspec.Struct, tag="comment", tag_field="type", rename="camel", kw_only=True):
    """A comment became visible on a post I wrote or commented on, in a community I still belong to (never my own,
    nor one by a member I blocked)."""

    community_id: Id
    post_id: Id
    comment_id: Id
    author_id: Id | None = None


class LiveNotification(msgspec.Struct, tag="notification", tag_field="type", rename="camel", kw_only=True):
    """A new item in my inbox, and my unread count now (the badge, read after the item committed)."""

    notification_id: Id
    kind: Annotated[str, Meta(examples=["reply"], description="The inbox item's kind")]
    community_id: Id | None = None
    unread_count: Annotated[int, Meta(ge=0, examples=[3])]


class LiveOnline(msgspec.Struct, tag="online", tag_field="type", rename="camel", kw_only=True):
    """How many members have the community I am viewing open (seen within PRESENCE_GAP_SECONDS): sent when I
    start viewing it, when someone arrives and every `pingSeconds` while it changes."""

    community_id: Id
    count: Annotated[int, Meta(ge=0, examples=[12])]


class LiveResync(msgspec.Struct, tag="resync", tag_field="type", rename="camel", kw_only=True):
    """Events may have been missed (the server's database link was interrupted): catch up with `since`."""


class LivePing(msgspec.Struct, tag="ping", tag_field="type", rename="camel", kw_only=True):
    """A heartbeat, either way: answer with `pong`."""


class LivePong(msgspec.Struct, tag="pong", tag_field="type", rename="camel", kw_only=True):
    """The answer to a `ping`, either way."""


class LiveView(msgspec.Struct, tag="view", tag_field="type", rename="camel", kw_only=True, forbid_unknown_fields=True):
    """Client: I am viewing this community (its `online` counts follow; my presence there counts like a
    heartbeat's), or `null` when I leave it."""

    community_id: Id | None


class LiveError(msgspec.Struct, tag="error", tag_field="type", rename="camel", kw_only=True):
    """A client message the server could not take (the socket stays open)."""

    code: Annotated[str, Meta(examples=["not_member"], description="A problem code (docs/errors.md)")]
    message: Annotated[str, Meta(examples=["你还不是该社区成员。"], description="For people, in Chinese")]


SERVER_MESSAGES = (
    LiveReady,
    LivePost,
    LiveComment,
    LiveNotification,
    LiveOnline,
    LiveResync,
    LivePing,
    LivePong,
    LiveError,
)
CLIENT_MESSAGES = (LiveView, LivePing, LivePong)
ClientMessage = LiveView | LivePing | LivePong

# Close codes of the socket (onClose's `code`); the reason is the code's name.
CLOSE_CODES = {
    1001: "going_away: the server is shutting down; reconnect",
    1011: "internal_error: a message of the client's failed on the server; reconnect, with a backoff",
    4401: "token_expired: the access token expired while open; refresh it and reconnect",
    4408: "idle: no message (not even a pong) for two ping intervals; reconnect",
    4409: "replaced: a newer socket of mine exceeded LIVE_SOCKETS_PER_USER; this, the oldest, was closed; reopen on "
    "the next onShow, not at once (that would close another of the member's sockets in turn)",
    4429: "slow_consumer: more than LIVE_QUEUE_SIZE events waited for this socket; reconnect and catch up",
}
