"""What the interactions domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.core.domain import Domain
from service.interactions.brand_pool_routes import BrandRewardPoolsController
from service.interactions.brand_pools import BRAND_POOL_PAYMENTS
from service.interactions.ingestion import run_writer
from service.interactions.jobs import JOBS
from service.interactions.payouts import REWARD_PAYMENTS
from service.interactions.privacy import PRIVACY
from service.interactions.problems import PROBLEMS
from service.interactions.reports import METRICS, REWARDS
from service.interactions.routes import CONTROLLERS

DOMAIN = Domain(
    "interactions",
    problems=PROBLEMS,
    controllers=[*CONTROLLERS, BrandRewardPoolsController],
    tags=[
        Tag(name="interactions", description="Client events (views, share opens) and presence heartbeats."),
        Tag(name="metrics", description="Activity metrics and member contribution ranks (docs/metrics.md)."),
        Tag(
            name="rewards",
            description="Two-tier reward pools, funded by the platform operator or paid by a brand's owner "
            "(docs/brands.md), and my rewards.",
        ),
    ],
    jobs=[JOBS],
    purposes=[REWARD_PAYMENTS, BRAND_POOL_PAYMENTS],
    privacy=PRIVACY,
    reports=[METRICS, REWARDS],
    lifespans=[run_writer],
)
