"""What the warmup domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

import asyncpg
from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.core.privacy import Erasure, Privacy
from service.warmup.jobs import JOBS
from service.warmup.problems import PROBLEMS
from service.warmup.routes import CONTROLLERS


async def _erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    """The robot's nudges that name the member, sent to them or naming them to another."""
    await conn.execute("DELETE FROM warmup_nudges WHERE user_id = $1 OR other_id = $1", erasure.user_id)


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
