"""Whose writing a reader is shown, as SQL fragments every domain that lists members or their writing uses.

One place on purpose: blocking (the `blocks` branch) turns the reader's condition below into "and not a member
the reader blocked", and search, profiles, a member's posts and the member list follow.
"""

from __future__ import annotations


def _reader(me: str, user: str) -> str:
    """Whether reader `me` sees member `user`: today everyone (blocking narrows it here)."""
    del user
    return f"{me}::bigint IS NOT NULL"


def author_shown(row: str, me: str) -> str:
    """The author of `row` (a posts or comments row) is shown to reader `me`: a robot, or a member the
    community did not remove."""
    return f"""({row}.author_id IS NULL OR (NOT EXISTS (
        SELECT FROM memberships shown_m
        WHERE shown_m.community_id = {row}.community_id AND shown_m.user_id = {row}.author_id
          AND shown_m.status = 'removed') AND {_reader(me, f"{row}.author_id")}))"""


def member_shown(community: str, user: str, me: str) -> str:
    """Member `user` of `community` is shown to reader `me` (profiles, a member's posts, the member list)."""
    del community
    return _reader(me, user)
