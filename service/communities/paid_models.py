"""Requests and answers of paid entry and owners' payouts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from service.communities.models import PRICE_MAX_FEN
from service.core.media import AvatarLink
from service.core.money.models import OrderStatus, Refund
from service.core.paging import NextCursor


class EntryOrder(msgspec.Struct, rename="camel", kw_only=True):
    """A community_entry order as the community's admins see it (without the payer's payment data)."""

    id: str
    payer_id: str
    payer_nickname: Annotated[str, Meta(examples=["小林"])]
    payer_avatar_url: AvatarLink
    amount_fen: int
    status: OrderStatus
    created_at: datetime
    paid_at: datetime | None
    refunded_fen: int
    refundable_until: Annotated[
        datetime | None, Meta(description="Until when the payer may ask for a refund; null when not refundable")
    ]
    refunds: list[Refund]


class EntryOrderPage(msgspec.Struct, rename="camel"):
    items: list[EntryOrder]
    next_cursor: NextCursor


class EntryRefundCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    reason: Annotated[
        str, Meta(min_length=1, max_length=80, examples=["活动取消"], description="Shown to the payer on the order")
    ]
    amount_fen: (
        Annotated[
            int,
            Meta(
                ge=1,
                le=PRICE_MAX_FEN,
                description="Part of the payment; omitted: all that is left. A full "
                "refund ends the membership, a partial one keeps it",
            ),
        ]
        | None
    ) = None


class Earnings(msgspec.Struct, rename="camel", kw_only=True):
    """Entry fees of a community. Money a payer may still take back (inside their refund window) or that is
    being refunded is not withdrawable yet."""

    community_id: str
    refund_window_hours: int
    paid_orders: int
    paid_fen: int
    refunded_fen: int
    retained_fen: Annotated[int, Meta(description="paid - refunded")]
    refunding_fen: Annotated[int, Meta(description="Refunds promised but not finished yet")]
    in_refund_window_fen: Annotated[int, Meta(description="Retained on payments still inside their refund window")]
    paying_out_fen: Annotated[int, Meta(description="In payouts waiting for the owner to confirm the transfer")]
    paid_out_fen: Annotated[int, Meta(description="Transferred to owners by finished payouts")]
    withdrawable_fen: Annotated[
        int,
        Meta(
            description="What a payout takes now: payments past their refund window, with no refund in flight, "
            "not in a payout yet"
        ),
    ]


PayoutStatus = Literal["pending", "succeeded", "failed"]


class Payout(msgspec.Struct, rename="camel", kw_only=True):
    """Entry fees sent to the community's owner by merchant transfer. `pending` until the owner confirms the
    transfer in WeChat (`GET /v1/transfers/{transferId}` gives what `wx.requestMerchantTransfer` needs);
    `failed` when it fails or is not confirmed in 24 hours, and its money is withdrawable again."""

    id: str
    community_id: str
    payee_id: str
    amount_fen: int
    order_count: Annotated[int, Meta(description="Entry orders whose money this payout carries")]
    status: PayoutStatus
    transfer_id: str | None
    created_at: datetime
    finished_at: datetime | None


class PayoutPage(msgspec.Struct, rename="camel"):
    items: list[Payout]
    next_cursor: NextCursor
