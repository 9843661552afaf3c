"""What the auth domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.auth.deletion import export_profile
from service.auth.jobs import JOBS
from service.auth.problems import PROBLEMS
from service.auth.routes import AuthController, MeController
from service.core.domain import Domain
from service.core.privacy import Privacy

DOMAIN = Domain(
    "auth",
    problems=PROBLEMS,
    controllers=[AuthController, MeController],
    tags=[
        Tag(name="auth", description="WeChat login (wx.login code), token refresh, logout, phone binding."),
        Tag(
            name="me",
            description="The signed-in member's own profile, a copy of their data, and deleting the account "
            "(docs/privacy.md).",
        ),
    ],
    jobs=[JOBS],
    # The tombstone, sessions and kept answers are erased by deletion.erase_due itself, after the other domains.
    privacy=Privacy(
        export=export_profile,
        erases=("users", "refresh_tokens", "idempotent_requests"),
        keeps=("account_deletions",),
    ),
)
