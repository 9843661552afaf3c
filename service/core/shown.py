"""Whose writing a reader is shown, as SQL fragments every domain that lists members or their writing uses.

One place on purpose: blocks (service/core/blocks.py) narrow what a reader sees here, and search, profiles, a
member's posts and the member list follow. Writing: not by a member the reader blocked. Members: neither
blocked the other.
"""

from __future__ import annotations

from service.core.blocks import apart, unblocked


def author_shown(row: str, me: str, community: str | None = None) -> str:
    """The author of `row` (a posts or comments row) is shown to reader `me`: a robot, or a member the
    community did not remove. `community`: the row's community where the statement has it as a parameter (Citus
    routes a statement whose every read names it; a correlated column of a CTE it cannot plan)."""
    return f"""({row}.author_id IS NULL OR (NOT EXISTS (
        SELECT FROM memberships shown_m
        WHERE shown_m.community_id = {community or f"{row}.community_id"} AND shown_m.user_id = {row}.author_id
          AND shown_m.status = 'removed') AND {unblocked(me, f"{row}.author_id")}))"""


def member_shown(user: str, me: str) -> str:
    """Member `user` is shown to reader `me` (profiles, a member's posts, the member list): neither blocked the
    other."""
    return apart(me, user)
