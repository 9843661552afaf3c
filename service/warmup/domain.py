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
    """The robot's nudges sent to the member go; those introducing them to another stay as the other's record
    without their id (it bounds the other's nudges: one a week), and the introductions naming them leave those
    others' inboxes (the inbox's own erasure takes only the member's inbox)."""
    await conn.execute("DELETE FROM warmup_nudges WHERE user_id = $1", erasure.user_id)
    told = await conn.fetch(
        "UPDATE warmup_nudges SET other_id = NULL WHERE other_id = $1 RETURNING user_id", erasure.user_id
    )
    await withdraw(conn, sorted({n["user_id"] for n in told}), "introduction", "user", erasure.user_id)


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
