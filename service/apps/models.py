"""Requests and answers of community apps (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from service.core.apps import APPS
from service.core.money.models import Order
from service.core.patterns import END

# The catalogue: key -> (name, what it does). The keys are stable: routes and tables use them.
APP_PATTERN = "^(" + "|".join(APPS) + ")" + END
PRICE_MAX_FEN = 10_000_000

AppKey = Annotated[str, Meta(pattern=APP_PATTERN, examples=["meetups"], description="An app of the catalogue")]
Billing = Literal["free", "one_off", "monthly"]
AppState = Literal["enabled", "disabled", "payment_required", "expired"]


class CatalogueApp(msgspec.Struct, rename="camel", kw_only=True):
    app: Annotated[str, Meta(examples=["meetups"])]
    name: Annotated[str, Meta(examples=["线上线下活动"])]
    description: str
    billing: Annotated[Billing, Meta(description="free, one_off (pay once, keep it) or monthly (pay per month)")]
    price_fen: Annotated[int | None, Meta(examples=[1990], description="null when free")]


class Catalogue(msgspec.Struct, rename="camel"):
    items: list[CatalogueApp]


class CommunityApp(msgspec.Struct, rename="camel", kw_only=True):
    app: Annotated[str, Meta(examples=["meetups"])]
    name: str
    description: str
    state: Annotated[
        AppState,
        Meta(
            description="enabled: on; disabled: the owner switched it off; payment_required: priced and never "
            "paid; expired: the paid period ended"
        ),
    ]
    billing: Billing
    price_fen: int | None
    purchased: Annotated[bool, Meta(description="A one-off purchase was made: the app stays paid for good")]
    paid_until: Annotated[datetime | None, Meta(description="End of the paid monthly periods, if any")]


class CommunityAppList(msgspec.Struct, rename="camel"):
    items: list[CommunityApp]


class AppCheckout(msgspec.Struct, rename="camel", kw_only=True):
    """The app and, when it must be paid first, the order to pay with `wx.requestPayment` (order.payment)."""

    app: CommunityApp
    order: Order | None = None


class AppPrice(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    billing: Annotated[Literal["one_off", "monthly"], Meta(examples=["monthly"])]
    price_fen: Annotated[int, Meta(ge=1, le=PRICE_MAX_FEN, examples=[1990], description="Price in fen")]
