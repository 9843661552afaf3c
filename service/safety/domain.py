"""What the safety domain contributes to the app (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.safety.privacy import PRIVACY
from service.safety.problems import PROBLEMS
from service.safety.routes import CONTROLLERS

DOMAIN = Domain(
    "safety",
    problems=PROBLEMS,
    privacy=PRIVACY,
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="safety",
            description="Blocking members: my block list; what a block hides and refuses across the feed, member "
            "lists, mentions and the inbox (docs/safety.md).",
        )
    ],
)
