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

    time_stamp: Annotated[str, msgspec.Meta(examples=["1740817800"])]
    nonce_str: Annotated[str, msgspec.Meta(examples=["5K8264ILTKCH16CQ2502SI8ZNMTM67VS"])]
    package: Annotated[str, msgspec.Meta(examples=["prepay_id=wx01083000123456789012345678901234"])]
    sign_type: Literal["RSA"]
    pay_sign: Annotated[str, msgspec.Meta(examples=["oR9d8PuhnIc+YZ8cBHFCwfgpaK9gd7vaRvkYD7rthRAZ..."])]


class Refund(msgspec.Struct, frozen=True, rename="camel"):
    id: str
    amount_fen: int
    status: RefundStatus
    initiated_by: Literal["payer", "admin", "system"]
    reason: Annotated[
        str,
        msgspec.Meta(
            description="For programs: `<code>: <detail>`, or a person's own words",
            examples=["community_full: the community is full"],
        ),
    ]
    # What the payer reads, in Chinese: the sentence WeChat's refund message shows them (core/money/notices.py).
    notice: Annotated[
        str,
        msgspec.Meta(
            description="For people: why, in Chinese, as WeChat's refund message tells the payer",
            examples=["社群名额已满，入群费用原路退回"],
        ),
    ]
    created_at: datetime
    succeeded_at: datetime | None = None


class Order(msgspec.Struct, frozen=True, rename="camel"):
    id: str
    out_trade_no: Annotated[str, msgspec.Meta(examples=["CK20250301083000a1b2c3d4e5f60718"])]
    purpose: Annotated[
        str,
        msgspec.Meta(
            examples=["community_entry"],
            description="What it pays for: community_entry, collection_share, meetup, app, brand_reward_pool",
        ),
    ]
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
    remark: Annotated[str, msgspec.Meta(examples=["社区活跃奖励"])]
    created_at: datetime
    mch_id: str
    app_id: str
    package_info: Annotated[str | None, msgspec.Meta(examples=["ABBQO+oYAAABAAAAAAAKXuT8BsMAAAAOpnJlEUnv"])] = None
    fail_reason: Annotated[str | None, msgspec.Meta(examples=[None, "USER_REFUSED"])] = None
