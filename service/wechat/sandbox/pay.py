"""The WeChat Pay v3 sandbox: the endpoints the app calls, with WeChat's shapes, signatures and error codes.

It verifies the merchant's request signatures (401 SIGN_ERROR otherwise), signs every answer and notification
with its own RSA key (the "WeChat Pay public key" of public-key mode, id `public_key_id`), and encrypts
notification resources with the APIv3 key (AEAD_AES_256_GCM). State lives in memory.

Emulated (WECHAT.md): JSAPI order, query by out_trade_no, close, refund, refund query, merchant transfer and its
query. Control calls, unsigned, for tests and local development (JSON in camelCase):
- `POST /sandbox/pay {"prepayId", "result": "success"|"fail", "drop"}`: the member pays (or the payment fails:
  WeChat sends nothing then, the order stays payable as PAYERROR); success sends TRANSACTION.SUCCESS to the
  order's notify_url, unless `drop` (or the global `dropNotifications`) loses it, as WeChat sometimes does.
- `GET /sandbox/pay/notifications`, `POST /sandbox/pay/notifications/{id}/replay {"resign"}`: past notifications
  and resending one (duplicates arrive by design; `resign: false` resends the original, now stale, headers).
- `POST /sandbox/pay/refunds {"outRefundNo", "result": "success"|"abnormal"|"closed"}`: finish a refund when
  `autoCompleteRefunds` is off (by default refunds succeed and notify right after the answer).
- `POST /sandbox/pay/transfers {"outBillNo", "result": "success"|"fail"|"cancelled"}`: the member confirms
  (or not) a merchant transfer; sends MCHTRANSFER.BILL.FINISHED.
- `POST /sandbox/pay/faults {"operation", "status", "code", "times", "delaySeconds"}`: the next `times` calls of
  an operation fail with that error (or are delayed), to test retries.
- `PUT /sandbox/pay/settings {"dropNotifications", "autoCompleteRefunds"}`, `GET /sandbox/pay/keys`.
WeChat retries unacknowledged notifications for 24 hours; the sandbox sends each once and leaves retries to
the replay call, so tests decide exactly what arrives.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import httpx
import msgspec
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Request, Response, Router, get, post, put
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, JSONBody

from service.settings import Settings
from service.wechat.pay import (
    BEIJING,
    aes_gcm_encrypt,
    format_time,
    parse_authorization,
    public_pem,
    request_message,
    rsa_verify,
    signed_headers,
)
from service.wechat.sandbox.keys import SandboxKeys, load_dev_keys

MAX_SKEW = 300
_OUT_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
_OUT_REFUND_NO = re.compile(r"^[0-9A-Za-z_\-|*@]{1,64}$")
Operation = Literal["jsapi", "query", "close", "refund", "refund_query", "transfer", "transfer_query"]


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


@dataclass
class SentNotification:
    id: str
    kind: str  # transaction | refund | transfer
    reference: str  # out_trade_no, out_refund_no or out_bill_no
    url: str
    body: bytes
    headers: dict[str, str]
    deliveries: list[int] = field(default_factory=list)  # HTTP status of each delivery (0: unreachable)
    dropped: bool = False


@dataclass
class Fault:
    status: int
    code: str
    message: str
    remaining: int
    delay: float


class PaySandbox:
    """In-memory WeChat Pay for one merchant. `http` delivers notifications (created on demand)."""

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        merchant_keys: dict[str, rsa.RSAPublicKey],
        platform_key: rsa.RSAPrivateKey,
        public_key_id: str,
        apiv3_key: str,
        http: httpx.AsyncClient | None = None,
        auto_complete_refunds: bool = True,
    ) -> None:
        self.mchid = mchid
        self.appid = appid
        self.merchant_keys = merchant_keys
        self.platform_key = platform_key
        self.public_key_id = public_key_id
        self.apiv3_key = apiv3_key.encode()
        self.http = http
        self.auto_complete_refunds = auto_complete_refunds
        self.drop_notifications = False
        self.orders: dict[str, SandboxOrder] = {}
        self.prepay: dict[str, str] = {}
        self.refunds: dict[str, SandboxRefund] = {}
        self.transfers: dict[str, SandboxTransfer] = {}
        self.notifications: dict[str, SentNotification] = {}
        self.faults: dict[str, list[Fault]] = collections.defaultdict(list)
        self.calls: collections.Counter[str] = collections.Counter()
        self._sequence = itertools.count(1)
        self._lock = asyncio.Lock()

    @classmethod
    def from_keys(cls, keys: SandboxKeys, http: httpx.AsyncClient | None = None, **options: Any) -> PaySandbox:
        return cls(
            mchid=keys.mchid,
            appid=keys.appid,
            merchant_keys={keys.merchant_serial: keys.merchant_key.public_key()},
            platform_key=keys.platform_key,
            public_key_id=keys.public_key_id,
            apiv3_key=keys.apiv3_key,
            http=http,
            **options,
        )

    @classmethod
    def for_development(cls, settings: Settings, http: httpx.AsyncClient | None = None) -> PaySandbox:
        """The sandbox `python -m service sandbox` serves: the keys of .data/pay-sandbox, which `python -m service
        run` gives the app too when WECHAT_PAY_MCHID is unset, and the app's appid."""
        keys = load_dev_keys()
        if settings.wechat_appid:
            keys = dataclasses.replace(keys, appid=settings.wechat_appid)
        return cls.from_keys(keys, http)

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()

    # --- answers ---------------------------------------------------------------------------------------------

    def answer(self, status: int, payload: Any = None) -> Response[bytes]:
        body = b"" if payload is None else msgspec.json.encode(payload)
        headers = signed_headers(self.platform_key, self.public_key_id, body)
        headers["Request-ID"] = secrets.token_hex(16)
        return Response(body, status_code=status, media_type="application/json", headers=headers)

    def error(self, exc: SandboxError) -> Response[bytes]:
        return self.answer(exc.status, {"code": exc.code, "message": exc.message})

    async def check_request(self, request: Request, operation: str) -> bytes:
        """Verify the merchant's signature like WeChat does; apply injected faults; return the raw body."""
        body = await request.body()
        self.calls[operation] += 1
        fields = parse_authorization(request.headers.get("authorization", ""))
        if fields is None or not {"mchid", "nonce_str", "signature", "timestamp", "serial_no"} <= fields.keys():
            raise SandboxError(401, "SIGN_ERROR", "Authorization 缺失或格式错误")
        if fields["mchid"] != self.mchid:
            raise SandboxError(401, "SIGN_ERROR", "商户号与签名不匹配")
        key = self.merchant_keys.get(fields["serial_no"])
        if key is None:
            raise SandboxError(401, "SIGN_ERROR", "商户证书序列号有误")
        if not fields["timestamp"].isdigit() or abs(time.time() - int(fields["timestamp"])) > MAX_SKEW:
            raise SandboxError(401, "SIGN_ERROR", "时间戳与当前时间相差过大")
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        url = raw_path.decode() + (f"?{request.url.query}" if request.url.query else "")
        message = request_message(request.method, url, fields["timestamp"], fields["nonce_str"], body)
        if not rsa_verify(key, message, fields["signature"]):
            raise SandboxError(401, "SIGN_ERROR", "签名错误")
        faults = self.faults.get(operation)
        if faults:
            fault = faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.pop(0)
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.code:
                raise SandboxError(fault.status, fault.code, fault.message)
        return body

    def _decode(self, body: bytes, kind: type[Any]) -> Any:
        try:
            return msgspec.json.decode(body, type=kind)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise SandboxError(400, "PARAM_ERROR", f"参数错误: {exc}") from None

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{datetime.now(BEIJING):%Y%m%d}{next(self._sequence):012d}{secrets.randbelow(10**6):06d}"

    # --- operations -------------------------------------------------------------------------------------------

    def jsapi(self, body: bytes) -> dict:
        request = self._decode(body, _JsapiRequest)
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

    def _order(self, out_trade_no: str) -> SandboxOrder:
        order = self.orders.get(out_trade_no)
        if order is None:
            raise SandboxError(404, "ORDER_NOT_EXIST", "订单不存在")
        return order

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
        return self.transaction(self._order(out_trade_no))

    def close(self, out_trade_no: str, body: bytes) -> None:
        if self._decode(body, _MchidBody).mchid != self.mchid:
            raise SandboxError(400, "PARAM_ERROR", "mchid 参数错误")
        order = self._order(out_trade_no)
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
        request = self._decode(body, _RefundRequest)
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

    def finish_refund(self, out_refund_no: str, result: str) -> SandboxRefund:
        refund = self.refunds.get(out_refund_no)
        if refund is None:
            raise SandboxError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        if refund.status != "PROCESSING":
            raise SandboxError(409, "INVALID_REQUEST", f"退款已是 {refund.status}")
        refund.status = {"success": "SUCCESS", "abnormal": "ABNORMAL", "closed": "CLOSED"}[result]
        if refund.status == "SUCCESS":
            refund.success_time = format_time(datetime.now(UTC))
        if refund.status == "CLOSED":
            self.orders[refund.out_trade_no].refund_reserved -= refund.refund
        return refund

    def transfer(self, body: bytes) -> SandboxTransfer:
        request = self._decode(body, _TransferRequest)
        if request.appid != self.appid:
            raise SandboxError(400, "PARAM_ERROR", "appid 与商户号不匹配")
        if not _OUT_NO.match(request.out_bill_no):
            raise SandboxError(400, "PARAM_ERROR", "out_bill_no 格式错误")
        if request.transfer_amount < 10:
            raise SandboxError(400, "PARAM_ERROR", "转账金额不能低于0.1元")
        if request.transfer_amount >= 200_000 and not request.user_name:
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

    def _transfer(self, out_bill_no: str) -> SandboxTransfer:
        transfer = self.transfers.get(out_bill_no)
        if transfer is None:
            raise SandboxError(404, "NOT_FOUND", "记录不存在")
        return transfer

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
        transfer = self._transfer(out_bill_no)
        if transfer.state != "WAIT_USER_CONFIRM":
            raise SandboxError(409, "INVALID_REQUEST", f"转账单已是 {transfer.state}")
        transfer.state = {"success": "SUCCESS", "fail": "FAIL", "cancelled": "CANCELLED"}[result]
        transfer.fail_reason = None if result == "success" else "USER_REFUSED" if result == "fail" else "TIMEOUT"
        transfer.update_time = format_time(datetime.now(UTC))
        return transfer

    # --- notifications ----------------------------------------------------------------------------------------

    def make_notification(
        self, *, kind: str, reference: str, url: str, event_type: str, summary: str, associated_data: str, data: dict
    ) -> SentNotification:
        resource = aes_gcm_encrypt(self.apiv3_key, msgspec.json.encode(data), associated_data)
        resource["original_type"] = associated_data
        notification_id = secrets.token_hex(18)
        body = msgspec.json.encode(
            {
                "id": notification_id,
                "create_time": format_time(datetime.now(UTC)),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": summary,
                "resource": resource,
            }
        )
        sent = SentNotification(notification_id, kind, reference, url, body, self._notification_headers(body))
        self.notifications[notification_id] = sent
        return sent

    def _notification_headers(self, body: bytes) -> dict[str, str]:
        headers = signed_headers(self.platform_key, self.public_key_id, body)
        headers["Content-Type"] = "application/json"
        return headers

    async def deliver(self, sent: SentNotification, *, drop: bool = False, resign: bool = True) -> int | None:
        """POST a notification to the merchant; the status it answered (None when dropped, 0 unreachable)."""
        if drop or self.drop_notifications:
            sent.dropped = True
            return None
        if resign:
            sent.headers = self._notification_headers(sent.body)
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=10)
        try:
            response = await self.http.post(sent.url, content=sent.body, headers=sent.headers)
            status = response.status_code
        except httpx.HTTPError:
            status = 0
        sent.deliveries.append(status)
        return status

    def transaction_notification(self, order: SandboxOrder) -> SentNotification:
        return self.make_notification(
            kind="transaction",
            reference=order.out_trade_no,
            url=order.notify_url,
            event_type="TRANSACTION.SUCCESS",
            summary="支付成功",
            associated_data="transaction",
            data=self.transaction(order),
        )

    def refund_notification(self, refund: SandboxRefund) -> SentNotification | None:
        if not refund.notify_url:
            return None
        order = self.orders[refund.out_trade_no]
        data: dict[str, Any] = {
            "mchid": self.mchid,
            "out_trade_no": refund.out_trade_no,
            "transaction_id": order.transaction_id,
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id,
            "refund_status": refund.status,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": refund.total,
                "refund": refund.refund,
                "payer_total": refund.total,
                "payer_refund": refund.refund,
            },
        }
        if refund.success_time:
            data["success_time"] = refund.success_time
        return self.make_notification(
            kind="refund",
            reference=refund.out_refund_no,
            url=refund.notify_url,
            event_type=f"REFUND.{refund.status}",
            summary="退款成功" if refund.status == "SUCCESS" else "退款异常",
            associated_data="refund",
            data=data,
        )

    def transfer_notification(self, transfer: SandboxTransfer) -> SentNotification | None:
        if not transfer.notify_url:
            return None
        data = self.transfer_view(transfer)
        return self.make_notification(
            kind="transfer",
            reference=transfer.out_bill_no,
            url=transfer.notify_url,
            event_type="MCHTRANSFER.BILL.FINISHED",
            summary="商家转账单据终态通知",
            associated_data="mch_payment",
            data=data,
        )


_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "CLOSED": "已关闭",
    "PAYERROR": "支付失败",
    "USERPAYING": "用户支付中",
    "REVOKED": "已撤销",
}


class _AmountIn(msgspec.Struct):
    total: Annotated[int, msgspec.Meta(ge=1)]
    currency: Literal["CNY"] = "CNY"


class _PayerIn(msgspec.Struct):
    openid: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class _JsapiRequest(msgspec.Struct):
    appid: str
    mchid: str
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=127)]
    out_trade_no: str
    notify_url: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    amount: _AmountIn
    payer: _PayerIn
    time_expire: str | None = None
    attach: Annotated[str, msgspec.Meta(max_length=128)] | None = None


class _MchidBody(msgspec.Struct):
    mchid: str


class _RefundAmountIn(msgspec.Struct):
    refund: Annotated[int, msgspec.Meta(ge=1)]
    total: Annotated[int, msgspec.Meta(ge=1)]
    currency: Literal["CNY"]


class _RefundRequest(msgspec.Struct):
    out_refund_no: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    amount: _RefundAmountIn
    out_trade_no: str | None = None
    transaction_id: str | None = None
    reason: Annotated[str, msgspec.Meta(max_length=80)] | None = None
    notify_url: str | None = None


class _TransferRequest(msgspec.Struct):
    appid: str
    out_bill_no: str
    transfer_scene_id: str
    openid: Annotated[str, msgspec.Meta(min_length=1)]
    transfer_amount: int
    transfer_remark: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    notify_url: str | None = None
    user_name: str | None = None
    user_recv_perception: str | None = None
    transfer_scene_report_infos: list[dict[str, str]] = []


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
            async with sandbox._lock:
                return action(body)
        except SandboxError as exc:
            return sandbox.error(exc)

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
        def action(_: bytes) -> Response[bytes]:
            found = sandbox.refunds.get(out_refund_no)
            if found is None:
                raise SandboxError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return sandbox.answer(200, sandbox.refund_view(found))

        return await signed_call(request, "refund_query", action)

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
            lambda _: sandbox.answer(200, sandbox.transfer_view(sandbox._transfer(out_bill_no))),
        )

    # --- control calls ----------------------------------------------------------------------------------------

    @post("/sandbox/pay", status_code=200)
    async def pay(data: JSONBody[PayControl]) -> Response[dict]:
        try:
            async with sandbox._lock:
                order = sandbox.pay(data.prepay_id, data.result)
                sent = sandbox.transaction_notification(order) if data.result == "success" else None
        except SandboxError as exc:
            return _control_error(exc)
        status = None if sent is None else await sandbox.deliver(sent, drop=data.drop)
        return Response(
            {
                "outTradeNo": order.out_trade_no,
                "tradeState": order.trade_state,
                "transactionId": order.transaction_id,
                "notificationId": None if sent is None else sent.id,
                "deliveredStatus": status,
            }
        )

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
        status = await sandbox.deliver(sent, resign=(data or ReplayControl()).resign)
        return Response({"deliveredStatus": status})

    @post("/sandbox/pay/refunds", status_code=200)
    async def finish_refund(data: JSONBody[RefundControl]) -> Response[dict]:
        try:
            async with sandbox._lock:
                refund = sandbox.finish_refund(data.out_refund_no, data.result)
                sent = sandbox.refund_notification(refund)
        except SandboxError as exc:
            return _control_error(exc)
        status = None if sent is None else await sandbox.deliver(sent, drop=data.drop)
        return Response({"status": refund.status, "deliveredStatus": status})

    @post("/sandbox/pay/transfers", status_code=200)
    async def finish_transfer(data: JSONBody[TransferControl]) -> Response[dict]:
        try:
            async with sandbox._lock:
                transfer = sandbox.finish_transfer(data.out_bill_no, data.result)
                sent = sandbox.transfer_notification(transfer)
        except SandboxError as exc:
            return _control_error(exc)
        status = None if sent is None else await sandbox.deliver(sent, drop=data.drop)
        return Response({"state": transfer.state, "deliveredStatus": status})

    @post("/sandbox/pay/faults", status_code=204)
    async def add_fault(data: JSONBody[FaultControl]) -> None:
        # An empty code only delays the call (a slow WeChat), then answers normally.
        sandbox.faults[data.operation].append(
            Fault(data.status, data.code, data.message, data.times, data.delay_seconds)
        )

    @put("/sandbox/pay/settings", status_code=200)
    async def update_settings(data: JSONBody[SettingsControl]) -> dict:
        if data.drop_notifications is not None:
            sandbox.drop_notifications = data.drop_notifications
        if data.auto_complete_refunds is not None:
            sandbox.auto_complete_refunds = data.auto_complete_refunds
        return {"dropNotifications": sandbox.drop_notifications, "autoCompleteRefunds": sandbox.auto_complete_refunds}

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
            finish_refund,
            finish_transfer,
            add_fault,
            update_settings,
            keys,
        ],
        include_in_schema=False,
    )


async def _complete_refund_later(sandbox: PaySandbox, out_refund_no: str) -> None:
    async with sandbox._lock:
        refund = sandbox.refunds[out_refund_no]
        if refund.status != "PROCESSING":
            return
        sent = sandbox.refund_notification(sandbox.finish_refund(out_refund_no, "success"))
    if sent is not None:
        await sandbox.deliver(sent)
