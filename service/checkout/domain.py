"""What the checkout domain contributes to the app and the worker (listed in service/domains.py)."""

from __future__ import annotations

from litestar.openapi.spec import Tag

from service.checkout.jobs import JOBS
from service.checkout.privacy import PRIVACY
from service.checkout.problems import PROBLEMS
from service.checkout.reports import ORDERS
from service.checkout.routes import OrdersController, PayNotificationsController, TransfersController
from service.core.domain import Domain

DOMAIN = Domain(
    "checkout",
    problems=PROBLEMS,
    controllers=[OrdersController, TransfersController, PayNotificationsController],
    tags=[
        Tag(
            name="checkout",
            description="Orders paid with WeChat Pay (JSAPI), refunds, merchant transfers "
            "and WeChat Pay notifications.",
        )
    ],
    jobs=[JOBS],
    privacy=PRIVACY,
    reports=[ORDERS],
)
