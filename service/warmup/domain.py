"""What the warmup domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

import asyncpg
from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.core.inbox import withdraw
from service.core.privacy import Erasure, Privacy
from service.warmup.jobs import JOBS
from service.warmup.problems import PROBLEMS
from service.warmup.routes import CONTROLLERS


async def _erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    """The robot's nudges that name the member, sent to them or naming them to another, and the introductions
    naming them in those others' inboxes (the inbox's own erasure takes only the member's inbox)."""
    nudges = await conn.fetch(
        "DELETE FROM warmup_nudges WHERE user_id = $1 OR other_id = $1 RETURNING user_id, other_id, kind",
        erasure.user_id,
    )
    told = {n["user_id"] for n in nudges if n["kind"] == "introduction" and n["other_id"] == erasure.user_id}
    await withdraw(conn, sorted(told), "introduction", "user", erasure.user_id)


DOMAIN = Domain(
    "warmup",
    problems=PROBLEMS,
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="warmup",
            description="The warm-up robot: topics it posts when the community goes quiet, and introductions of "
            "members who share an interest.",
        )
    ],
    jobs=[JOBS],
    privacy=Privacy(erase=_erase, erases=("warmup_nudges",), keeps=("warmup_topics",)),  # topics an admin wrote stay
)
