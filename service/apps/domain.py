"""What the apps domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.apps.jobs import JOBS
from service.apps.logic import APP_PURPOSE
from service.apps.problems import PROBLEMS
from service.apps.routes import CONTROLLERS
from service.core.domain import Domain
from service.core.privacy import Privacy

DOMAIN = Domain(
    "apps",
    problems=PROBLEMS,
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="apps",
            description="Community apps the owner switches on and off; priced apps are paid through checkout.",
        )
    ],
    jobs=[JOBS],
    purposes=[APP_PURPOSE],
    privacy=Privacy(keeps=("community_apps",)),  # who changed an app stays, as the tombstone
)
