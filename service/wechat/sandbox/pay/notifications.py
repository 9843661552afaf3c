"""The notifications the Pay sandbox sends the merchant, as WeChat does: the resource encrypted with the APIv3 key
(AEAD_AES_256_GCM), the body signed with the platform key, POSTed to the notify_url of the order, refund or
transfer. Each is kept, so that tests can look at it and replay it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
from cryptography.hazmat.primitives.asymmetric import rsa

from service.wechat.pay import aes_gcm_encrypt, format_time, signed_headers
from service.wechat.sandbox.pay.ledger import PayLedger, SandboxOrder, SandboxRefund, SandboxTransfer
from service.wechat.tls import tls_context


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


class Notifier:
    """Builds, keeps (`sent`, by id) and delivers notifications. `http` is created on demand; `drop` loses every
    notification, as WeChat sometimes does."""

    def __init__(
        self, *, platform_key: rsa.RSAPrivateKey, public_key_id: str, apiv3_key: bytes, http: httpx.AsyncClient | None
    ) -> None:
        self.platform_key = platform_key
        self.public_key_id = public_key_id
        self.apiv3_key = apiv3_key
        self.http = http
        self.drop = False
        self.sent: dict[str, SentNotification] = {}

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()

    def make(
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
        sent = SentNotification(notification_id, kind, reference, url, body, self._headers(body))
        self.sent[notification_id] = sent
        return sent

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = signed_headers(self.platform_key, self.public_key_id, body)
        headers["Content-Type"] = "application/json"
        return headers

    async def deliver(self, sent: SentNotification, *, drop: bool = False, resign: bool = True) -> int | None:
        """POST a notification to the merchant; the status it answered (None when dropped, 0 unreachable)."""
        if drop or self.drop:
            sent.dropped = True
            return None
        if resign:
            sent.headers = self._headers(sent.body)
        if self.http is None:
            self.http = httpx.AsyncClient(verify=tls_context(), timeout=10)
        try:
            response = await self.http.post(sent.url, content=sent.body, headers=sent.headers)
            status = response.status_code
        except httpx.HTTPError:
            status = 0
        sent.deliveries.append(status)
        return status

    async def send(self, sent: SentNotification | None, *, drop: bool = False) -> int | None:
        """Deliver a notification there is one (a refund or transfer without notify_url has none)."""
        return None if sent is None else await self.deliver(sent, drop=drop)

    # --- what WeChat notifies ---------------------------------------------------------------------------------

    def transaction(self, ledger: PayLedger, order: SandboxOrder) -> SentNotification:
        return self.make(
            kind="transaction",
            reference=order.out_trade_no,
            url=order.notify_url,
            event_type="TRANSACTION.SUCCESS",
            summary="支付成功",
            associated_data="transaction",
            data=ledger.transaction(order),
        )

    def refund(self, ledger: PayLedger, refund: SandboxRefund) -> SentNotification | None:
        if not refund.notify_url:
            return None
        order = ledger.orders[refund.out_trade_no]
        data: dict[str, Any] = {
            "mchid": ledger.mchid,
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
        return self.make(
            kind="refund",
            reference=refund.out_refund_no,
            url=refund.notify_url,
            event_type=f"REFUND.{refund.status}",
            summary="退款成功" if refund.status == "SUCCESS" else "退款异常",
            associated_data="refund",
            data=data,
        )

    def transfer(self, ledger: PayLedger, transfer: SandboxTransfer) -> SentNotification | None:
        if not transfer.notify_url:
            return None
        return self.make(
            kind="transfer",
            reference=transfer.out_bill_no,
            url=transfer.notify_url,
            event_type="MCHTRANSFER.BILL.FINISHED",
            summary="商家转账单据终态通知",
            associated_data="mch_payment",
            data=ledger.transfer_view(transfer),
        )
