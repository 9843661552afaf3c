"""The Pay sandbox's books: orders, refunds and merchant transfers of one merchant, their states and how
WeChat shows them. No HTTP and no keys here: `PaySandbox` (sandbox.py) verifies and answers the calls.
"""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec

from service.wechat.pay import BEIJING, MAX_UNNAMED_TRANSFER_FEN, MIN_TRANSFER_FEN, format_time
from service.wechat.sandbox.pay.requests import JsapiRequest, MchidBody, RefundRequest, TransferRequest

_OUT_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
_OUT_REFUND_NO = re.compile(r"^[0-9A-Za-z_\-|*@]{1,64}$")
T = TypeVar("T")


class SandboxError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(f"{status} {code}: {message}")


@dataclass
class SandboxOrder:
    appid: str
    mchid: str
    out_trade_no: str
    description: str
    total: int
    payer_openid: str
    notify_url: str
    time_expire: datetime | None
    prepay_id: str
    attach: str | None = None
    trade_state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: str | None = None
    refund_reserved: int = 0

    def same_request(self, other: SandboxOrder) -> bool:
        fields = ("appid", "description", "total", "payer_openid", "notify_url", "attach")
        return all(getattr(self, name) == getattr(other, name) for name in fields)


@dataclass
class SandboxRefund:
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    refund: int
    total: int
    notify_url: str | None
    create_time: str
    status: str = "PROCESSING"
    success_time: str | None = None
    # What WeChat shows the payer in its refund message ("若商户传入，会在下发给用户的退款消息中体现退款原因").
    reason: str | None = None


@dataclass
class SandboxTransfer:
    appid: str
    out_bill_no: str
    transfer_bill_no: str
    openid: str
    amount: int
    remark: str
    notify_url: str | None
    create_time: str
    state: str = "WAIT_USER_CONFIRM"
    fail_reason: str | None = None
    update_time: str = ""


def _find(records: dict[str, T], key: str, code: str, message: str) -> T:
    """A record by its merchant number, or WeChat's 404 with `code`."""
    found = records.get(key)
    if found is None:
        raise SandboxError(404, code, message)
    return found


class PayLedger:
    """WeChat Pay's records for one merchant, in memory; every operation raises SandboxError as WeChat answers."""

    def __init__(self, *, mchid: str, appid: str) -> None:
        self.mchid = mchid
        self.appid = appid
        self.orders: dict[str, SandboxOrder] = {}
        self.prepay: dict[str, str] = {}
        self.refunds: dict[str, SandboxRefund] = {}
        self.transfers: dict[str, SandboxTransfer] = {}
        self._sequence = itertools.count(1)

    def _decode(self, body: bytes, kind: type[Any]) -> Any:
        try:
            return msgspec.json.decode(body, type=kind)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise SandboxError(400, "PARAM_ERROR", f"参数错误: {exc}") from None

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{datetime.now(BEIJING):%Y%m%d}{next(self._sequence):012d}{secrets.randbelow(10**6):06d}"

    def jsapi(self, body: bytes) -> dict:
        request = self._decode(body, JsapiRequest)
        if request.mchid != self.mchid or request.appid != self.appid:
            raise SandboxError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        if not _OUT_NO.match(request.out_trade_no):
            raise SandboxError(400, "PARAM_ERROR", "out_trade_no 格式错误")
        expire = None
        if request.time_expire is not None:
            try:
                expire = datetime.fromisoformat(request.time_expire)
            except ValueError:
                raise SandboxError(400, "PARAM_ERROR", "time_expire 格式错误") from None
            if expire.tzinfo is None or expire <= datetime.now(UTC):
                raise SandboxError(400, "PARAM_ERROR", "time_expire 已过期或缺少时区")
        order = SandboxOrder(
            appid=request.appid,
            mchid=request.mchid,
            out_trade_no=request.out_trade_no,
            description=request.description,
            total=request.amount.total,
            payer_openid=request.payer.openid,
            notify_url=request.notify_url,
            time_expire=expire,
            prepay_id="wx" + secrets.token_hex(16),
            attach=request.attach,
        )
        existing = self.orders.get(order.out_trade_no)
        if existing is not None:
            if existing.trade_state in ("SUCCESS", "REFUND"):
                raise SandboxError(400, "ORDERPAID", "该订单已支付")
            if existing.trade_state == "CLOSED":
                raise SandboxError(400, "ORDER_CLOSED", "订单已关闭")
            if not existing.same_request(order):
                raise SandboxError(403, "OUT_TRADE_NO_USED", "商户订单号重复")
            return {"prepay_id": existing.prepay_id}
        self.orders[order.out_trade_no] = order
        self.prepay[order.prepay_id] = order.out_trade_no
        return {"prepay_id": order.prepay_id}

    def find_order(self, out_trade_no: str) -> SandboxOrder:
        return _find(self.orders, out_trade_no, "ORDER_NOT_EXIST", "订单不存在")

    def transaction(self, order: SandboxOrder) -> dict:
        """An order as the query answer and the TRANSACTION.SUCCESS plaintext show it."""
        paid = order.transaction_id is not None
        data: dict[str, Any] = {
            "appid": order.appid,
            "mchid": order.mchid,
            "out_trade_no": order.out_trade_no,
            "trade_type": "JSAPI",
            "trade_state": order.trade_state,
            "trade_state_desc": _STATE_DESC[order.trade_state],
            "payer": {"openid": order.payer_openid},
            "amount": {
                "total": order.total,
                "payer_total": order.total if paid else 0,
                "currency": "CNY",
                "payer_currency": "CNY",
            },
        }
        if order.attach:
            data["attach"] = order.attach
        if paid:
            data.update(transaction_id=order.transaction_id, bank_type="OTHERS", success_time=order.success_time)
        return data

    def query(self, out_trade_no: str, mchid: str | None) -> dict:
        if mchid != self.mchid:
            raise SandboxError(400, "PARAM_ERROR", "mchid 参数错误")
        return self.transaction(self.find_order(out_trade_no))

    def close(self, out_trade_no: str, body: bytes) -> None:
        if self._decode(body, MchidBody).mchid != self.mchid:
            raise SandboxError(400, "PARAM_ERROR", "mchid 参数错误")
        order = self.find_order(out_trade_no)
        if order.trade_state in ("SUCCESS", "REFUND"):
            raise SandboxError(400, "ORDERPAID", "订单已支付")
        order.trade_state = "CLOSED"

    def pay(self, prepay_id: str, result: str) -> SandboxOrder:
        order = self.orders.get(self.prepay.get(prepay_id, ""))
        if order is None:
            raise SandboxError(404, "PREPAY_NOT_FOUND", "no order with this prepay_id")
        if order.trade_state in ("SUCCESS", "REFUND"):
            raise SandboxError(409, "ORDERPAID", "该订单已支付")
        if order.trade_state == "CLOSED":
            raise SandboxError(409, "ORDER_CLOSED", "订单已关闭")
        if order.time_expire is not None and order.time_expire <= datetime.now(UTC):
            raise SandboxError(409, "ORDER_EXPIRED", "订单已过支付期限")
        if result == "fail":
            order.trade_state = "PAYERROR"
            return order
        order.trade_state = "SUCCESS"
        order.transaction_id = self._new_id("4200")
        order.success_time = format_time(datetime.now(UTC))
        return order

    def refund(self, body: bytes) -> SandboxRefund:
        request = self._decode(body, RefundRequest)
        if not _OUT_REFUND_NO.match(request.out_refund_no):
            raise SandboxError(400, "PARAM_ERROR", "out_refund_no 格式错误")
        order = self.orders.get(request.out_trade_no or "")
        if order is None:
            raise SandboxError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        existing = self.refunds.get(request.out_refund_no)
        if existing is not None:
            if existing.out_trade_no != order.out_trade_no or existing.refund != request.amount.refund:
                raise SandboxError(400, "INVALID_REQUEST", "退款单号已被使用, 请求参数不一致")
            return existing
        if order.trade_state not in ("SUCCESS", "REFUND"):
            raise SandboxError(400, "INVALID_REQUEST", "订单未支付, 不能退款")
        if request.amount.total != order.total:
            raise SandboxError(400, "PARAM_ERROR", "订单金额 total 与原订单不一致")
        if request.amount.refund > order.total - order.refund_reserved:
            raise SandboxError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
        refund = SandboxRefund(
            out_refund_no=request.out_refund_no,
            refund_id=self._new_id("5030"),
            out_trade_no=order.out_trade_no,
            refund=request.amount.refund,
            total=order.total,
            notify_url=request.notify_url,
            create_time=format_time(datetime.now(UTC)),
            reason=request.reason or None,
        )
        order.refund_reserved += refund.refund
        order.trade_state = "REFUND"
        self.refunds[refund.out_refund_no] = refund
        return refund

    def refund_view(self, refund: SandboxRefund) -> dict:
        order = self.orders[refund.out_trade_no]
        data = {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": order.transaction_id,
            "out_trade_no": refund.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": refund.create_time,
            "status": refund.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": refund.total,
                "refund": refund.refund,
                "payer_total": refund.total,
                "payer_refund": refund.refund,
                "settlement_total": refund.total,
                "settlement_refund": refund.refund,
                "discount_refund": 0,
                "currency": "CNY",
            },
        }
        if refund.success_time:
            data["success_time"] = refund.success_time
        return data

    def find_refund(self, out_refund_no: str) -> SandboxRefund:
        return _find(self.refunds, out_refund_no, "RESOURCE_NOT_EXISTS", "退款单不存在")

    def finish_refund(self, out_refund_no: str, result: str) -> SandboxRefund:
        refund = self.find_refund(out_refund_no)
        if refund.status != "PROCESSING":
            raise SandboxError(409, "INVALID_REQUEST", f"退款已是 {refund.status}")
        refund.status = {"success": "SUCCESS", "abnormal": "ABNORMAL", "closed": "CLOSED"}[result]
        if refund.status == "SUCCESS":
            refund.success_time = format_time(datetime.now(UTC))
        if refund.status == "CLOSED":
            self.orders[refund.out_trade_no].refund_reserved -= refund.refund
        return refund

    def transfer(self, body: bytes) -> SandboxTransfer:
        request = self._decode(body, TransferRequest)
        if request.appid != self.appid:
            raise SandboxError(400, "PARAM_ERROR", "appid 与商户号不匹配")
        if not _OUT_NO.match(request.out_bill_no):
            raise SandboxError(400, "PARAM_ERROR", "out_bill_no 格式错误")
        if request.transfer_amount < MIN_TRANSFER_FEN:
            raise SandboxError(400, "PARAM_ERROR", "转账金额不能低于0.1元")
        if request.transfer_amount > MAX_UNNAMED_TRANSFER_FEN and not request.user_name:
            raise SandboxError(400, "PARAM_ERROR", "转账金额>=2000元时, user_name 必填")
        existing = self.transfers.get(request.out_bill_no)
        if existing is not None:
            if existing.amount != request.transfer_amount or existing.openid != request.openid:
                raise SandboxError(400, "INVALID_REQUEST", "商户单号重复, 请求参数不一致")
            return existing
        now = format_time(datetime.now(UTC))
        transfer = SandboxTransfer(
            appid=request.appid,
            out_bill_no=request.out_bill_no,
            transfer_bill_no=self._new_id("1330"),
            openid=request.openid,
            amount=request.transfer_amount,
            remark=request.transfer_remark,
            notify_url=request.notify_url,
            create_time=now,
            update_time=now,
        )
        self.transfers[transfer.out_bill_no] = transfer
        return transfer

    def find_transfer(self, out_bill_no: str) -> SandboxTransfer:
        return _find(self.transfers, out_bill_no, "NOT_FOUND", "记录不存在")

    def transfer_view(self, transfer: SandboxTransfer) -> dict:
        data = {
            "mch_id": self.mchid,
            "appid": transfer.appid,
            "out_bill_no": transfer.out_bill_no,
            "transfer_bill_no": transfer.transfer_bill_no,
            "state": transfer.state,
            "transfer_amount": transfer.amount,
            "transfer_remark": transfer.remark,
            "openid": transfer.openid,
            "create_time": transfer.create_time,
            "update_time": transfer.update_time,
        }
        if transfer.state == "WAIT_USER_CONFIRM":
            data["package_info"] = "sandbox-package-" + transfer.transfer_bill_no
        if transfer.fail_reason:
            data["fail_reason"] = transfer.fail_reason
        return data

    def finish_transfer(self, out_bill_no: str, result: str) -> SandboxTransfer:
        transfer = self.find_transfer(out_bill_no)
        if transfer.state != "WAIT_USER_CONFIRM":
            raise SandboxError(409, "INVALID_REQUEST", f"转账单已是 {transfer.state}")
        transfer.state = {"success": "SUCCESS", "fail": "FAIL", "cancelled": "CANCELLED"}[result]
        transfer.fail_reason = None if result == "success" else "USER_REFUSED" if result == "fail" else "TIMEOUT"
        transfer.update_time = format_time(datetime.now(UTC))
        return transfer


_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "CLOSED": "已关闭",
    "PAYERROR": "支付失败",
    "USERPAYING": "用户支付中",
    "REVOKED": "已撤销",
}
