"""What the moderation domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.moderation.jobs import JOBS
from service.moderation.privacy import PRIVACY
from service.moderation.problems import PROBLEMS
from service.moderation.routes import CONTROLLERS

DOMAIN = Domain(
    "moderation",
    problems=PROBLEMS,
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="moderation",
            description="Reports by members, each community's moderation queue for its admins (reports, content "
            "WeChat's check held for review, content hidden by reports), the platform operator's queue, decisions "
            "(docs/moderation.md).",
        )
    ],
    jobs=[JOBS],
    privacy=PRIVACY,
)
