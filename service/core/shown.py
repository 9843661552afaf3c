"""Whose writing a reader is shown, as SQL fragments every domain that lists members or their writing uses.

One place on purpose: blocks (service/core/blocks.py) narrow what a reader sees here, and search, profiles, a
member's posts and the member list follow. Writing: not by a member the reader blocked (a removed member's still
shows). Members: neither blocked the other.
"""

from __future__ import annotations

from service.core.blocks import apart, unblocked


def author_shown(row: str, me: str) -> str:
    """The author of `row` (a posts or comments row) is shown to reader `me`: a robot, or a member the reader did
    not block. A member the community removed is shown like any other, as in the feed: removing a member ends their
    membership, not what they wrote (a moderator removes that, docs/moderation.md)."""
    return f"({row}.author_id IS NULL OR {unblocked(me, f'{row}.author_id')})"


def member_shown(user: str, me: str) -> str:
    """Member `user` is shown to reader `me` (profiles, a member's posts, the member list): neither blocked the
    other."""
    return apart(me, user)
