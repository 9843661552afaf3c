"""What the merchant sends the Pay sandbox: WeChat Pay's request bodies, with WeChat's limits."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec


class AmountIn(msgspec.Struct):
    total: Annotated[int, msgspec.Meta(ge=1)]
    currency: Literal["CNY"] = "CNY"


class PayerIn(msgspec.Struct):
    openid: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class JsapiRequest(msgspec.Struct):
    appid: str
    mchid: str
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=127)]
    out_trade_no: str
    notify_url: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    amount: AmountIn
    payer: PayerIn
    time_expire: str | None = None
    attach: Annotated[str, msgspec.Meta(max_length=128)] | None = None


class MchidBody(msgspec.Struct):
    mchid: str


class RefundAmountIn(msgspec.Struct):
    refund: Annotated[int, msgspec.Meta(ge=1)]
    total: Annotated[int, msgspec.Meta(ge=1)]
    currency: Literal["CNY"]


class RefundRequest(msgspec.Struct):
    out_refund_no: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    amount: RefundAmountIn
    out_trade_no: str | None = None
    transaction_id: str | None = None
    reason: Annotated[str, msgspec.Meta(max_length=80)] | None = None
    notify_url: str | None = None


class TransferRequest(msgspec.Struct):
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
