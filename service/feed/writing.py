"""What writing a post and writing a comment share: may this member write here now, is the post open to
reactions, the label a content check leaves.

Writing goes: standing and newcomer limits are checked, then WeChat checks the text with no database
connection held, then one transaction re-checks standing and limits under the member's row lock and stores
the text.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from service.core.access import check_can_post
from service.core.content import (
    Verdict,
)
from service.errors import Problem
from service.feed import limits
from service.feed import queries as q
from service.settings import Settings


async def may_write(
    conn: asyncpg.Connection, settings: Settings, community_id: int, user_id: int, kind: str, text: str
):
    """May this member write here now? Standing, mute, introduction, newcomer limits; their openid."""
    await check_can_post(conn, community_id, user_id)
    await limits.check_newcomer(conn, settings, community_id, user_id, kind=kind, text=text)
    return await conn.fetchval(q.USER_OPENID, user_id)


def require_open(post: Any) -> None:
    """The post exists, is not deleted and is visible: others may react to it."""
    if post is None or post["deleted_at"] is not None or post["status"] != "visible":
        raise Problem("not_found", "no such post")


def label_of(verdict: Verdict) -> int | None:
    return None if verdict.outcome == "pass" else verdict.label


async def audit_removal(conn: asyncpg.Connection, text: Any, user_id: int, action: str, details: dict) -> None:
    """An admin who deletes another's post or comment leaves a line in the community's audit log."""
    if text["author_id"] != user_id:
        details = {**details, "robot": text["robot"]}
        await conn.execute(q.INSERT_AUDIT, text["community_id"], user_id, action, text["author_id"], details)
