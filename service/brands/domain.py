"""What the brands domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.brands.export import REPORTS
from service.brands.privacy import PRIVACY
from service.brands.problems import PROBLEMS
from service.brands.routes import CONTROLLERS
from service.core.domain import Domain

DOMAIN = Domain(
    "brands",
    problems=PROBLEMS,
    privacy=PRIVACY,
    controllers=CONTROLLERS,
    reports=REPORTS,
    tags=[
        Tag(
            name="brands",
            description="Brands that run many communities: the brand's team (admins in every community of the "
            "brand), defaults attached communities inherit, the brand page, series of sister communities that open "
            "the next sister when one is full (docs/brands.md).",
        ),
        Tag(
            name="export",
            description="CSV downloads for a brand's team and a community's admins: members, communities, orders "
            "and refunds, metrics by day, reward allocations. UTF-8 with a BOM, streamed, bounded, recorded "
            "(docs/brands.md).",
        ),
    ],
)
