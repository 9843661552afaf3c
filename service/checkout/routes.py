"""HTTP face of checkout: orders and refunds for their payer, and WeChat Pay's notifications."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import HeaderParameter, JSONBody

from service.checkout.problems import PROBLEMS
from service.core import money
from service.core.deps import AppSettings, Db, Pay
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.ids import PathId
from service.core.money.models import Order, Refund, RefundRequest, Transfer
from service.wechat.pay import Refund as WxRefund
from service.wechat.pay import Transaction, TransferBill, WeChatPay

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key", min_length=1, max_length=128, description="Retries return the first result"
    ),
]
# What every WeChat Pay notification goes through before it changes anything.
NOTIFY_CHECKS = (
    "Verified first: WeChat Pay's platform signature over the raw body (the key named by `Wechatpay-Serial`, "
    "signed within 5 minutes), then the resource decrypted with the APIv3 key. A notification that disagrees "
    "with our record changes nothing (`pay_notification_mismatch`). "
)
NOTIFY_RESPONSES = PROBLEMS.responses(
    "pay_signature_invalid",
    "pay_serial_unknown",
    "pay_notification_stale",
    "pay_notification_malformed",
    "pay_notification_mismatch",
    "pay_notification_unknown",
    "payload_too_large",
)


def _notification(path: str, operation_id: str, summary: str, effect: str):
    """A route WeChat Pay notifies: 204 acknowledges, anything else makes WeChat send the notification again."""
    return post(
        path,
        status_code=204,
        operation_id=operation_id,
        summary=summary,
        description=NOTIFY_CHECKS + effect,
        responses=NOTIFY_RESPONSES,
    )


class OrdersController(Controller):
    path = "/orders"
    tags = ["checkout"]

    @get(
        "/{order_id:str}",
        operation_id="getOrder",
        summary="One of my orders: status, refunds, refund deadline and, while payable, wx.requestPayment data",
        security=BEARER_SECURITY,
        responses=PROBLEMS.responses("unauthorized", "token_expired", "not_found"),
    )
    async def get_order(self, order_id: PathId, user: CurrentUser, db: Db, pay: Pay, settings: AppSettings) -> Order:
        return await money.get_order(db, pay, settings, order_id, user.id)

    @post(
        "/{order_id:str}/refund",
        status_code=201,
        operation_id="refundOrder",
        summary="Ask for my payment back, within the order's refund window (asking again returns the same refund)",
        description=(
            "The whole payment, inside the refund window (`refundableUntil` on the order); a purchase its payer may "
            "not refund (e.g. a community app) answers `refund_not_allowed`. The refund goes to WeChat Pay at once and "
            "a job retries it. A community entry fee refunded ends the membership, so the owner must transfer "
            "ownership first."
        ),
        security=BEARER_SECURITY,
        responses=PROBLEMS.responses(
            "unauthorized",
            "token_expired",
            "not_found",
            "order_not_paid",
            "refund_window_closed",
            "refund_not_allowed",
            "owner_must_transfer",
        ),
    )
    async def refund_order(
        self,
        order_id: PathId,
        caller: CurrentUser,
        state: State,
        pay: Pay,
        settings: AppSettings,
        data: JSONBody[RefundRequest | None] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Refund:
        # A payer has at most one refund per order, so a retry (with or without Idempotency-Key) gets it back.
        reason = data.reason if data is not None else ""
        return await money.request_refund(state.pool, pay, settings, order_id, caller.id, reason)


class TransfersController(Controller):
    path = "/transfers"
    tags = ["checkout"]

    @get(
        "/{transfer_id:str}",
        operation_id="getTransfer",
        summary="A merchant transfer to me; while waitUserConfirm, confirm it with wx.requestMerchantTransfer",
        security=BEARER_SECURITY,
        responses=PROBLEMS.responses("unauthorized", "token_expired", "not_found"),
    )
    async def get_transfer(self, transfer_id: PathId, user: CurrentUser, db: Db, pay: Pay) -> Transfer:
        return await money.get_transfer(db, pay, transfer_id, user.id)


class PayNotificationsController(Controller):
    """Called by WeChat Pay, not by the mini program. 204 acknowledges; any 4xx/5xx makes WeChat send again."""

    path = "/pay"
    tags = ["checkout"]

    @_notification(
        "/notify",
        "payNotify",
        summary="WeChat Pay payment notification: verified on the raw body, applied exactly once",
        effect="TRANSACTION.SUCCESS records the payment once and, in the same transaction, grants what was bought, "
        "or refunds it in full when it can no longer be granted (e.g. a full community); other events are ignored.",
    )
    async def notify(self, request: Request, db: Db) -> None:
        # WeChat Pay from the app's state, not as a second dependency: Litestar resolves two independent
        # dependencies in an anyio task group, a cost on the route every payment takes.
        pay: WeChatPay = request.app.state.pay
        txn = money.read_notification(pay, request.headers, await request.body(), "TRANSACTION.SUCCESS", Transaction)
        if txn is not None:
            await money.apply_transaction(db, pay.config, txn)

    @_notification(
        "/refund-notify",
        "payRefundNotify",
        summary="WeChat Pay refund notification (REFUND.SUCCESS, ABNORMAL, CLOSED), applied exactly once",
        effect="The refund's new state is recorded once; a success enters the ledger, an abnormal refund is logged "
        "for a person to finish in WeChat Pay.",
    )
    async def refund_notify(self, request: Request, db: Db, pay: Pay) -> None:
        refund = money.read_notification(pay, request.headers, await request.body(), "REFUND", WxRefund)
        if refund is not None:
            await money.apply_refund(db, refund)

    @_notification(
        "/transfer-notify",
        "payTransferNotify",
        summary="WeChat Pay merchant transfer notification (MCHTRANSFER.BILL.FINISHED), applied exactly once",
        effect="The transfer's state is recorded once; a finished transfer settles what it paid for (e.g. marks "
        "the member's reward paid).",
    )
    async def transfer_notify(self, request: Request, db: Db, pay: Pay) -> None:
        bill = money.read_notification(
            pay, request.headers, await request.body(), "MCHTRANSFER.BILL.FINISHED", TransferBill
        )
        if bill is not None:
            await money.apply_transfer(db, bill)
