"""HTTP routes of paid entry as admins see it: entry orders, refunds, earnings and payouts."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Response, get, post
from litestar.params import JSONBody, QueryParameter

from service.communities import paid, payouts
from service.communities import paid_models as pm
from service.communities.params import ADMIN
from service.communities.problems import PROBLEMS
from service.core.deps import Db
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.core.money.models import Refund
from service.core.paging import Cursor, Limit


class CommunityOrdersController(Controller):
    """Paid entry seen from the community: its orders, admin refunds and the owner's earnings (admins)."""

    path = "/communities/{community_id:str}"
    tags = ["checkout"]
    security = BEARER_SECURITY

    @get(
        "/orders",
        operation_id="listCommunityOrders",
        summary="The community's entry orders, newest first, with payer and refunds (admins)",
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def list_orders(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        status: Annotated[
            Literal["created", "paid", "refunded", "closed"] | None,
            QueryParameter(description="Only orders in this state"),
        ] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> pm.EntryOrderPage:
        return await paid.entry_orders(db, community_id, user.id, status, limit, cursor)

    @post(
        "/orders/{order_id:str}/refund",
        operation_id="refundCommunityOrder",
        summary="Refund an entry order with a reason the payer sees (admins); a full refund ends the membership",
        description=(
            "Admins refund at any time (no refund window) until the owner withdraws the payment (`order_paid_out`): "
            "what is left of the payment, or `amountFen` of it. A refund "
            "of the whole fee ends the payer's membership, so the owner's own entry order answers "
            "`owner_must_transfer`; a partial one keeps it. An admin's own order (a brand's team included) is "
            "the community owner's to refund, since it comes out of the owner's income: `refund_own_order` (its "
            "payer may still ask on `/v1/orders/{id}/refund` inside the window). A job submits the refund to "
            "WeChat Pay; send an "
            "`Idempotency-Key` to retry safely."
        ),
        status_code=201,
        responses=PROBLEMS.responses(
            *ADMIN,
            "order_not_paid",
            "refund_exceeds_remaining",
            "order_paid_out",
            "owner_must_transfer",
            "refund_own_order",
            "idempotency_key_reused",
        ),
    )
    async def refund_order(
        self,
        community_id: PathId,
        order_id: PathId,
        data: JSONBody[pm.EntryRefundCreate],
        user: CurrentUser,
        db: Db,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Refund]:
        return await paid.refund_entry(db, community_id, order_id, user.id, data, idempotency_key)

    @get(
        "/earnings",
        operation_id="getCommunityEarnings",
        summary="Entry fees retained and the part still inside refund windows, not withdrawable yet (admins)",
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def earnings(self, community_id: PathId, user: CurrentUser, db: Db) -> pm.Earnings:
        return await paid.earnings(db, community_id, user.id)

    @post(
        "/payouts",
        operation_id="withdrawCommunityEarnings",
        summary="Withdraw the community's withdrawable entry fees to me by merchant transfer (owner)",
        description=(
            "Takes every entry payment past its refund window with no refund in flight (`withdrawableFen` of the "
            "earnings), oldest first, up to 1,999.99 yuan per payout; what is left waits for the next. Those "
            "payments can no longer be refunded (`order_paid_out`). Confirm the transfer in the mini program "
            "with `wx.requestMerchantTransfer` (`GET /v1/transfers/{transferId}`); a transfer that fails or is "
            "not confirmed in 24 hours fails the payout and makes its money withdrawable again. Send an "
            "`Idempotency-Key` to retry safely."
        ),
        status_code=201,
        responses=PROBLEMS.responses(*ADMIN, "nothing_to_withdraw", "payout_too_large", "idempotency_key_reused"),
    )
    async def withdraw(
        self, community_id: PathId, user: CurrentUser, db: Db, idempotency_key: IdempotencyKey = None
    ) -> Response[pm.Payout]:
        return await payouts.withdraw(db, community_id, user.id, idempotency_key)

    @get(
        "/payouts",
        operation_id="listCommunityPayouts",
        summary="The community's payouts to its owners, newest first (admins)",
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def list_payouts(
        self, community_id: PathId, user: CurrentUser, db: Db, limit: Limit = 20, cursor: Cursor = None
    ) -> pm.PayoutPage:
        return await payouts.list_payouts(db, community_id, user.id, limit, cursor)
