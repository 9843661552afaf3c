"""An order as the OpenAPI document shows it (a meetup fee), for every domain whose answers carry one."""

from __future__ import annotations

from datetime import UTC, datetime

from service.core.money.models import Order, PaymentParams

_AT = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)

ORDER = Order(
    id="6001",
    out_trade_no="CK20250601080000a1b2c3d4e5f60718",
    purpose="meetup",
    subject_id="3002",
    description="活动报名：周六奥森晨跑",
    amount_fen=2000,
    status="created",
    created_at=_AT,
    time_expire=datetime(2025, 6, 1, 8, 15, tzinfo=UTC),
    paid_at=None,
    refunded_fen=0,
    refundable_until=None,
    refunds=[],
    payment=PaymentParams(
        time_stamp="1748764800",
        nonce_str="5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        package="prepay_id=wx01080000123456789012345678901234",
        sign_type="RSA",
        pay_sign="oR9d8PuhnIc+YZ8cBHFCwfgpaK9gd7vaRvkYD7rthRAZ...",
    ),
)
