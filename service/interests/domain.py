"""What the interests domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.interests.jobs import JOBS
from service.interests.privacy import PRIVACY
from service.interests.problems import PROBLEMS
from service.interests.routes import CONTROLLERS

DOMAIN = Domain(
    "interests",
    problems=PROBLEMS,
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="interests",
            description="Members' interests: keywords of what they write, per member and community.",
        )
    ],
    jobs=[JOBS],
    privacy=PRIVACY,
)
