"""Answers shown as examples in the OpenAPI document, built from the real models so they cannot drift."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from service.apps import models as m
from service.core.apps import APPS
from service.core.money.examples import ORDER


def _app(app: str, **fields) -> m.CommunityApp:
    name, description = APPS[app]
    values = {"state": "enabled", "billing": "free", "price_fen": None, "purchased": False, "paid_until": None}
    return m.CommunityApp(app=app, name=name, description=description, **{**values, **fields})


CATALOGUE = m.Catalogue(
    items=[
        m.CatalogueApp(
            app=app,
            name=name,
            description=description,
            billing="monthly" if app == "meetups" else "free",
            price_fen=1990 if app == "meetups" else None,
        )
        for app, (name, description) in APPS.items()
    ]
)
PAID_UNTIL = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)
COMMUNITY_APPS = m.CommunityAppList(
    items=[
        _app("activities"),
        _app("meetups", billing="monthly", price_fen=1990, paid_until=PAID_UNTIL),
    ]
)
ENABLED = m.AppCheckout(app=_app("activities"))
TO_PAY = m.AppCheckout(
    app=_app("meetups", state="payment_required", billing="monthly", price_fen=1990),
    order=msgspec.structs.replace(
        ORDER, purpose="app", subject_id="17", description="社区应用：线上线下活动", amount_fen=1990
    ),
)
PRICE = m.CatalogueApp(
    app="meetups", name=APPS["meetups"][0], description=APPS["meetups"][1], billing="monthly", price_fen=1990
)
