"""The Pay sandbox's HTTP face: WeChat Pay's endpoints (signed calls, signed answers) and the unsigned control
calls of tests and local development (see the package's docstring)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

import msgspec
from litestar import Request, Response, Router, get, post, put
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, JSONBody

from service.wechat.pay import public_pem
from service.wechat.sandbox.pay.ledger import SandboxError, SandboxOrder
from service.wechat.sandbox.pay.notifications import SentNotification
from service.wechat.sandbox.pay.sandbox import Fault, Operation, PaySandbox

R = TypeVar("R")


class PayControl(msgspec.Struct, rename="camel"):
    prepay_id: str
    result: Literal["success", "fail"] = "success"
    drop: bool = False


class ReplayControl(msgspec.Struct, rename="camel"):
    resign: bool = True


class RefundControl(msgspec.Struct, rename="camel"):
    out_refund_no: str
    result: Literal["success", "abnormal", "closed"] = "success"
    drop: bool = False


class TransferControl(msgspec.Struct, rename="camel"):
    out_bill_no: str
    result: Literal["success", "fail", "cancelled"] = "success"
    drop: bool = False


class FaultControl(msgspec.Struct, rename="camel"):
    operation: Operation
    status: int = 500
    code: str = "SYSTEM_ERROR"
    message: str = "系统错误"
    times: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1
    delay_seconds: Annotated[float, msgspec.Meta(ge=0, le=60)] = 0.0


class SettingsControl(msgspec.Struct, rename="camel"):
    drop_notifications: bool | None = None
    auto_complete_refunds: bool | None = None


def _control_error(exc: SandboxError) -> Response[dict]:
    return Response({"code": exc.code, "message": exc.message}, status_code=exc.status)


def pay_sandbox_router(sandbox: PaySandbox) -> Router:
    """The Pay sandbox's HTTP face; mount it in the sandbox app (or a test's own Litestar app)."""

    async def signed_call(request: Request, operation: str, action) -> Response[bytes]:
        try:
            body = await sandbox.check_request(request, operation)
            async with sandbox.lock:
                return action(body)
        except SandboxError as exc:
            return sandbox.error(exc)

    async def settle(
        step: Callable[[], tuple[R, SentNotification | None]],
        drop: bool,
        view: Callable[[R, SentNotification | None], dict],
    ) -> Response[dict]:
        """A control call: its change to the ledger under the lock, then the notification it makes, delivered;
        answers `view` of what changed, and the delivery's status."""
        try:
            async with sandbox.lock:
                record, sent = step()
        except SandboxError as exc:
            return _control_error(exc)
        status = await sandbox.notifier.send(sent, drop=drop)
        return Response({**view(record, sent), "deliveredStatus": status})

    @post("/v3/pay/transactions/jsapi", status_code=200)
    async def jsapi(request: Request) -> Response[bytes]:
        return await signed_call(request, "jsapi", lambda body: sandbox.answer(200, sandbox.jsapi(body)))

    @get("/v3/pay/transactions/out-trade-no/{out_trade_no:str}")
    async def query(request: Request, out_trade_no: FromPath[str]) -> Response[bytes]:
        mchid = request.query_params.get("mchid")
        return await signed_call(request, "query", lambda _: sandbox.answer(200, sandbox.query(out_trade_no, mchid)))

    @post("/v3/pay/transactions/out-trade-no/{out_trade_no:str}/close", status_code=200)
    async def close(request: Request, out_trade_no: FromPath[str]) -> Response[bytes]:
        def action(body: bytes) -> Response[bytes]:
            sandbox.close(out_trade_no, body)
            return sandbox.answer(204)

        return await signed_call(request, "close", action)

    @post("/v3/refund/domestic/refunds", status_code=200)
    async def refund(request: Request) -> Response[bytes]:
        def action(body: bytes) -> Response[bytes]:
            created = sandbox.refund(body)
            response = sandbox.answer(200, sandbox.refund_view(created))
            if sandbox.auto_complete_refunds and created.status == "PROCESSING":
                response.background = BackgroundTask(_complete_refund_later, sandbox, created.out_refund_no)
            return response

        return await signed_call(request, "refund", action)

    @get("/v3/refund/domestic/refunds/{out_refund_no:str}")
    async def refund_query(request: Request, out_refund_no: FromPath[str]) -> Response[bytes]:
        return await signed_call(
            request,
            "refund_query",
            lambda _: sandbox.answer(200, sandbox.refund_view(sandbox.find_refund(out_refund_no))),
        )

    @post("/v3/fund-app/mch-transfer/transfer-bills", status_code=200)
    async def transfer(request: Request) -> Response[bytes]:
        def action(body: bytes) -> Response[bytes]:
            bill = sandbox.transfer(body)
            view = sandbox.transfer_view(bill)
            keys = ("out_bill_no", "transfer_bill_no", "create_time", "state", "package_info", "fail_reason")
            return sandbox.answer(200, {k: view[k] for k in keys if k in view})

        return await signed_call(request, "transfer", action)

    @get("/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no:str}")
    async def transfer_query(request: Request, out_bill_no: FromPath[str]) -> Response[bytes]:
        return await signed_call(
            request,
            "transfer_query",
            lambda _: sandbox.answer(200, sandbox.transfer_view(sandbox.find_transfer(out_bill_no))),
        )

    # --- control calls ----------------------------------------------------------------------------------------

    @post("/sandbox/pay", status_code=200)
    async def pay(data: JSONBody[PayControl]) -> Response[dict]:
        def step():
            order = sandbox.pay(data.prepay_id, data.result)
            return order, sandbox.notifier.transaction(sandbox, order) if data.result == "success" else None

        def view(order: SandboxOrder, sent: SentNotification | None) -> dict:
            return {
                "outTradeNo": order.out_trade_no,
                "tradeState": order.trade_state,
                "transactionId": order.transaction_id,
                "notificationId": None if sent is None else sent.id,
            }

        return await settle(step, data.drop, view)

    @get("/sandbox/pay/notifications")
    async def notifications() -> list[dict]:
        return [
            {
                "id": n.id,
                "kind": n.kind,
                "reference": n.reference,
                "url": n.url,
                "deliveries": n.deliveries,
                "dropped": n.dropped,
            }
            for n in sandbox.notifications.values()
        ]

    @post("/sandbox/pay/notifications/{notification_id:str}/replay", status_code=200)
    async def replay(notification_id: FromPath[str], data: JSONBody[ReplayControl | None] = None) -> Response[dict]:
        sent = sandbox.notifications.get(notification_id)
        if sent is None:
            return _control_error(SandboxError(404, "NOT_FOUND", "no such notification"))
        status = await sandbox.notifier.deliver(sent, resign=(data or ReplayControl()).resign)
        return Response({"deliveredStatus": status})

    @get("/sandbox/pay/refunds")
    async def refunds(request: Request) -> list[dict]:
        # What each payer was told: WeChat's refund message carries the merchant's `reason`.
        out_trade_no = request.query_params.get("outTradeNo")
        return [
            {
                "outRefundNo": r.out_refund_no,
                "outTradeNo": r.out_trade_no,
                "refund": r.refund,
                "status": r.status,
                "reason": r.reason,
            }
            for r in sandbox.refunds.values()
            if out_trade_no is None or r.out_trade_no == out_trade_no
        ]

    @post("/sandbox/pay/refunds", status_code=200)
    async def finish_refund(data: JSONBody[RefundControl]) -> Response[dict]:
        def step():
            refund = sandbox.finish_refund(data.out_refund_no, data.result)
            return refund, sandbox.notifier.refund(sandbox, refund)

        return await settle(step, data.drop, lambda refund, _: {"status": refund.status})

    @post("/sandbox/pay/transfers", status_code=200)
    async def finish_transfer(data: JSONBody[TransferControl]) -> Response[dict]:
        def step():
            transfer = sandbox.finish_transfer(data.out_bill_no, data.result)
            return transfer, sandbox.notifier.transfer(sandbox, transfer)

        return await settle(step, data.drop, lambda transfer, _: {"state": transfer.state})

    @post("/sandbox/pay/faults", status_code=204)
    async def add_fault(data: JSONBody[FaultControl]) -> None:
        # An empty code only delays the call (a slow WeChat), then answers normally.
        sandbox.faults[data.operation].append(
            Fault(data.status, data.code, data.message, data.times, data.delay_seconds)
        )

    @put("/sandbox/pay/settings", status_code=200)
    async def update_settings(data: JSONBody[SettingsControl]) -> dict:
        if data.drop_notifications is not None:
            sandbox.notifier.drop = data.drop_notifications
        if data.auto_complete_refunds is not None:
            sandbox.auto_complete_refunds = data.auto_complete_refunds
        return {"dropNotifications": sandbox.notifier.drop, "autoCompleteRefunds": sandbox.auto_complete_refunds}

    @get("/sandbox/pay/keys")
    async def keys() -> dict:
        return {
            "mchid": sandbox.mchid,
            "appid": sandbox.appid,
            "publicKeyId": sandbox.public_key_id,
            "publicKey": public_pem(sandbox.platform_key.public_key()),
        }

    return Router(
        path="/",
        route_handlers=[
            jsapi,
            query,
            close,
            refund,
            refund_query,
            transfer,
            transfer_query,
            pay,
            notifications,
            replay,
            refunds,
            finish_refund,
            finish_transfer,
            add_fault,
            update_settings,
            keys,
        ],
        include_in_schema=False,
    )


async def _complete_refund_later(sandbox: PaySandbox, out_refund_no: str) -> None:
    async with sandbox.lock:
        refund = sandbox.refunds[out_refund_no]
        if refund.status != "PROCESSING":
            return
        sent = sandbox.notifier.refund(sandbox, sandbox.finish_refund(out_refund_no, "success"))
    await sandbox.notifier.send(sent)
