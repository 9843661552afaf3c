"""What the inbox domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.inbox.jobs import JOBS
from service.inbox.privacy import PRIVACY
from service.inbox.routes import CONTROLLERS

DOMAIN = Domain(
    "inbox",
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="inbox",
            description="My notifications across my communities: replies, likes, decisions on my requests and "
            "reports, free trials; the unread badge; marking read (docs/inbox.md).",
        )
    ],
    jobs=[JOBS],
    privacy=PRIVACY,
)
