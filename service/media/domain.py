"""What the media domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.media.jobs import JOBS
from service.media.logic import apply_verdict
from service.media.privacy import PRIVACY
from service.media.problems import PROBLEMS
from service.media.routes import CONTROLLERS

DOMAIN = Domain(
    "media",
    problems=PROBLEMS,
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="media",
            description=(
                "Photos uploaded from the mini program: processed (metadata removed), stored once per content, "
                "served under signed expiring URLs, and checked by WeChat's media_check_async (docs/media.md)."
            ),
        )
    ],
    jobs=[JOBS],
    on_media_verdict=[apply_verdict],
    privacy=PRIVACY,
)
