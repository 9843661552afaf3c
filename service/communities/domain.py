"""What the communities domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.communities.paid import ENTRY_PURPOSE
from service.communities.payouts import PAYOUT_PURPOSE
from service.communities.privacy import PRIVACY
from service.communities.problems import PROBLEMS
from service.communities.routes import CONTROLLERS
from service.communities.sanctions import apply_sanction
from service.core.domain import Domain

DOMAIN = Domain(
    "communities",
    problems=PROBLEMS,
    controllers=CONTROLLERS,
    tags=[
        Tag(
            name="communities",
            description="Communities and belonging to one: discover, join (free, approval, paid, invite links), "
            "roles, mute, leave, the welcome ceremony and self-introductions, the audit log.",
        )
    ],
    purposes=[ENTRY_PURPOSE, PAYOUT_PURPOSE],
    on_sanctioned=[apply_sanction],
    privacy=PRIVACY,
)
