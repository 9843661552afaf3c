"""What the meetups domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.meetups.jobs import JOBS
from service.meetups.privacy import PRIVACY
from service.meetups.problems import PROBLEMS
from service.meetups.purpose import MEETUP_PURPOSE
from service.meetups.routes import CONTROLLERS

DOMAIN = Domain(
    "meetups",
    problems=PROBLEMS,
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="meetups",
            description="Online and offline events: sign-ups with capacity and waitlist, fees through checkout, "
            "venue check-in by short code or signed QR payload, reminders.",
        )
    ],
    jobs=[JOBS],
    purposes=[MEETUP_PURPOSE],
    privacy=PRIVACY,
)
