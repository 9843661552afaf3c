"""An order as the OpenAPI document shows it (a meetup fee), for every domain whose answers carry one: written
as the JSON the mini program receives, checked against `Order` when imported."""

from __future__ import annotations

import msgspec

from service.core.money.models import Order

ORDER = msgspec.convert(
    {
        "id": "6001",
        "outTradeNo": "CK20250601080000a1b2c3d4e5f60718",
        "purpose": "meetup",
        "subjectId": "3002",
        "description": "活动报名：周六奥森晨跑",
        "amountFen": 2000,
        "status": "created",
        "createdAt": "2025-06-01T08:00:00Z",
        "timeExpire": "2025-06-01T08:15:00Z",
        "paidAt": None,
        "refundedFen": 0,
        "refundableUntil": None,
        "refunds": [],
        "payment": {
            "timeStamp": "1748764800",
            "nonceStr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
            "package": "prepay_id=wx01080000123456789012345678901234",
            "signType": "RSA",
            "paySign": "oR9d8PuhnIc+YZ8cBHFCwfgpaK9gd7vaRvkYD7rthRAZ...",
        },
    },
    Order,
)
