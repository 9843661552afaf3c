"""What the collections domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.collections.jobs import JOBS
from service.collections.logic import SHARE_PURPOSE
from service.collections.privacy import PRIVACY
from service.collections.problems import PROBLEMS
from service.collections.routes import CONTROLLERS
from service.core.domain import Domain

DOMAIN = Domain(
    "collections",
    problems=PROBLEMS,
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="collections",
            description="Group collections: participants pay a share each; "
            "settled to the initiator after the deadline.",
        )
    ],
    jobs=[JOBS],
    purposes=[SHARE_PURPOSE],
    privacy=PRIVACY,
)
