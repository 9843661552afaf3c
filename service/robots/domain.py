"""What the robots domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.robots.jobs import JOBS
from service.robots.logic import answer_in_feed, on_community_opened
from service.robots.privacy import PRIVACY
from service.robots.problems import PROBLEMS
from service.robots.routes import CONTROLLERS

DOMAIN = Domain(
    "robots",
    problems=PROBLEMS,
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="robots",
            description="Keyword auto-reply rules of a community and WeChat's customer-service message push.",
        )
    ],
    jobs=[JOBS],
    on_published=[answer_in_feed],
    privacy=PRIVACY,
    on_community_opened=[on_community_opened],
)
