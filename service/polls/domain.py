"""What the polls domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.polls.jobs import JOBS
from service.polls.privacy import PRIVACY
from service.polls.problems import PROBLEMS
from service.polls.routes import CONTROLLERS

DOMAIN = Domain(
    "polls",
    problems=PROBLEMS,
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="polls",
            description="Product-naming polls: proposals (deduplicated, content-checked), "
            "votes with per-member limits, phases advanced at deadlines, "
            "final results with a documented tie-break, the audit record (docs/polls.md).",
        ),
        Tag(
            name="trials",
            description="Free-trial qualifications granted when a poll closes (winner, top proposers, a verifiable "
            "draw among voters) or redeemed with check-in points where the brand allows it: claim, ship, feedback and "
            "sharing it to the feed.",
        ),
    ],
    jobs=[JOBS],
    privacy=PRIVACY,
)
