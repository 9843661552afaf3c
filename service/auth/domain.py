"""What the auth domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.auth.problems import PROBLEMS
from service.auth.routes import AuthController, MeController
from service.core.domain import Domain

DOMAIN = Domain(
    "auth",
    problems=PROBLEMS,
    controllers=[AuthController, MeController],
    tags=[
        Tag(name="auth", description="WeChat login (wx.login code), token refresh, logout, phone binding."),
        Tag(name="me", description="The signed-in member's own profile."),
    ],
)
