"""What the warmup domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.core.privacy import Privacy
from service.warmup.jobs import JOBS
from service.warmup.problems import PROBLEMS
from service.warmup.routes import CONTROLLERS

DOMAIN = Domain(
    "warmup",
    problems=PROBLEMS,
    controllers=CONTROLLERS,
    tags=[Tag(name="warmup", description="The warm-up robot: topics it posts when the community goes quiet.")],
    jobs=[JOBS],
    privacy=Privacy(keeps=("warmup_topics",)),  # topics an admin wrote stay
)
