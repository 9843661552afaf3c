"""What the activities domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.activities.jobs import JOBS
from service.activities.privacy import PRIVACY
from service.activities.problems import PROBLEMS
from service.activities.routes import CONTROLLERS
from service.core.domain import Domain

DOMAIN = Domain(
    "activities",
    problems=PROBLEMS,
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="activities",
            description="Recurring theme activities and check-ins (打卡): occurrences in the community's time zone, "
            "streaks and rankings; the community's time zone.",
        )
    ],
    jobs=[JOBS],
    privacy=PRIVACY,
)
