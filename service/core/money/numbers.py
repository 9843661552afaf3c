"""Merchant-side numbers: what WeChat Pay knows our orders, refunds and transfers by."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def merchant_number(prefix: str) -> str:
    """out_trade_no (CK), out_refund_no (RF) or out_bill_no (TR): 32 characters, unguessable."""
    return f"{prefix}{datetime.now(UTC):%Y%m%d%H%M%S}{secrets.token_hex(8)}"
