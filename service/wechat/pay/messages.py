"""WeChat Pay v3's messages as msgspec structs (answers, queries, notification plaintexts), its time format and
its merchant-transfer limits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

BEIJING = timezone(timedelta(hours=8))
# Merchant transfers: WeChat refuses less than 0.1 yuan, and asks the payee's real name (which we do not hold)
# from 2,000 yuan.
MIN_TRANSFER_FEN = 10
MAX_UNNAMED_TRANSFER_FEN = 199_999


def format_time(moment: datetime) -> str:
    """RFC 3339 in Beijing time, to the second, as WeChat's examples write it."""
    return moment.astimezone(BEIJING).replace(microsecond=0).isoformat()


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Amount(msgspec.Struct, frozen=True):
    total: int
    payer_total: int | None = None
    currency: str = "CNY"


class Payer(msgspec.Struct, frozen=True):
    openid: str = ""


class Transaction(msgspec.Struct, frozen=True):
    """An order as WeChat knows it (query answer, TRANSACTION.SUCCESS plaintext)."""

    appid: str
    mchid: str
    out_trade_no: str
    trade_state: str  # SUCCESS | REFUND | NOTPAY | CLOSED | REVOKED | USERPAYING | PAYERROR
    transaction_id: str | None = None
    trade_state_desc: str = ""
    success_time: str | None = None
    amount: Amount | None = None
    payer: Payer | None = None

    def __post_init__(self) -> None:
        # A time we cannot read makes the message malformed where it is decoded (msgspec raises a ValidationError,
        # a notification answers 400), not a 500 when the payment is recorded.
        if self.success_time is not None:
            parse_time(self.success_time)


class RefundAmount(msgspec.Struct, frozen=True):
    total: int
    refund: int
    payer_total: int | None = None
    payer_refund: int | None = None


class Refund(msgspec.Struct, frozen=True):
    """A refund (refund answer and query: `status`; REFUND.* plaintext: `refund_status`)."""

    out_refund_no: str
    out_trade_no: str = ""
    refund_id: str = ""
    status: str = ""  # SUCCESS | CLOSED | PROCESSING | ABNORMAL
    refund_status: str = ""
    success_time: str | None = None
    amount: RefundAmount | None = None
    mchid: str = ""

    @property
    def state(self) -> str:
        return self.status or self.refund_status


class TransferBill(msgspec.Struct, frozen=True):
    """A merchant transfer (answer, query, MCHTRANSFER.BILL.FINISHED plaintext)."""

    out_bill_no: str
    state: str  # ACCEPTED | PROCESSING | WAIT_USER_CONFIRM | TRANSFERING | SUCCESS | FAIL | CANCELING | CANCELLED
    transfer_bill_no: str = ""
    package_info: str | None = None
    transfer_amount: int | None = None
    openid: str | None = None
    fail_reason: str | None = None
    mch_id: str = ""


class EncryptedResource(msgspec.Struct, frozen=True):
    """A notification's `resource`: the plaintext encrypted with the APIv3 key."""

    algorithm: str
    ciphertext: str
    nonce: str
    associated_data: str = ""
    original_type: str = ""


class NotificationEnvelope(msgspec.Struct, frozen=True):
    """What WeChat POSTs to a notify_url."""

    id: str
    event_type: str
    resource: EncryptedResource
    resource_type: str = "encrypt-resource"
    create_time: str = ""
    summary: str = ""


class Notification(msgspec.Struct, frozen=True):
    """A notification verified and decrypted: `decode` it as Transaction, Refund or TransferBill."""

    id: str
    event_type: str
    plaintext: bytes

    def decode(self, kind: type[Any]) -> Any:
        return msgspec.json.decode(self.plaintext, type=kind)


class ErrorBody(msgspec.Struct):
    """WeChat's error answer."""

    code: str = "UNKNOWN"
    message: str = ""


class PrepayAnswer(msgspec.Struct):
    prepay_id: str
