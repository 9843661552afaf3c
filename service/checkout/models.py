"""Requests and answers of the checkout routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

OrderStatus = Literal["created", "paid", "refunded", "closed"]
RefundStatus = Literal["pending", "processing", "succeeded", "closed", "abnormal", "failed"]
TransferStatus = Literal["pending", "wait_user_confirm", "processing", "succeeded", "failed", "cancelled"]


class PaymentParams(msgspec.Struct, frozen=True, rename="camel"):
    """Pass as is to `wx.requestPayment` (timeStamp, nonceStr, package, signType, paySign)."""

    time_stamp: str
    nonce_str: str
    package: str
    sign_type: str
    pay_sign: str


class Refund(msgspec.Struct, frozen=True, rename="camel"):
    id: str
    amount_fen: int
    status: RefundStatus
    initiated_by: Literal["payer", "admin", "system"]
    reason: str
    created_at: datetime
    succeeded_at: datetime | None = None


class Order(msgspec.Struct, frozen=True, rename="camel"):
    id: str
    out_trade_no: str
    purpose: str
    subject_id: str | None
    description: str
    amount_fen: int
    status: OrderStatus
    created_at: datetime
    time_expire: datetime
    paid_at: datetime | None
    refunded_fen: int
    # Until when the payer may ask for a refund (null: not refundable by the payer, or not paid).
    refundable_until: datetime | None
    refunds: list[Refund]
    # Present while the order can be paid: hand it to wx.requestPayment.
    payment: PaymentParams | None = None


class RefundRequest(msgspec.Struct, frozen=True, rename="camel"):
    reason: Annotated[str, msgspec.Meta(max_length=80)] = ""


class Transfer(msgspec.Struct, frozen=True, rename="camel"):
    """A merchant transfer to the caller. While `waitUserConfirm`, call `wx.requestMerchantTransfer` with
    mchId, appId and packageInfo."""

    id: str
    amount_fen: int
    status: TransferStatus
    remark: str
    created_at: datetime
    mch_id: str
    app_id: str
    package_info: str | None = None
    fail_reason: str | None = None
