"""Checkout's part of account erasure and export (core/privacy.py, docs/privacy.md).

Money records are bookkeeping and stay whole (orders, refunds, the ledger, transfers): only the WeChat openid they
were paid by or to is replaced by the erasure's pseudonym, the tombstone's own openid. The erasure waits while money
is still moving (auth/deletion.py)."""

from __future__ import annotations

import asyncpg

from service.core.privacy import Erasure, Privacy

_PSEUDONYMIZE_ORDERS = "UPDATE orders SET payer_openid = $2 WHERE payer_user_id = $1"
_PSEUDONYMIZE_TRANSFERS = "UPDATE transfers SET payee_openid = $2 WHERE payee_user_id = $1"

_ORDERS = """
SELECT id::text AS id, out_trade_no, purpose, description, amount_fen, status, paid_fen, refunded_fen, created_at,
       paid_at
FROM orders o WHERE payer_user_id = $1 ORDER BY o.id  -- the number (a bare `id` is the text column above)
"""

_REFUNDS = """
SELECT r.id::text AS id, r.order_id::text AS order_id, r.amount_fen, r.status, r.reason, r.created_at
FROM refunds r JOIN orders o ON o.community_id = r.community_id AND o.id = r.order_id
WHERE o.payer_user_id = $1 ORDER BY r.id
"""

_TRANSFERS = """
SELECT id::text AS id, purpose, amount_fen, status, created_at
FROM transfers t WHERE payee_user_id = $1 ORDER BY t.id  -- the number (a bare `id` is the text column above)
"""


async def erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    await conn.execute(_PSEUDONYMIZE_ORDERS, erasure.user_id, erasure.pseudonym)
    await conn.execute(_PSEUDONYMIZE_TRANSFERS, erasure.user_id, erasure.pseudonym)


PRIVACY = Privacy(
    erase=erase,
    exports={"orders": _ORDERS, "refunds": _REFUNDS, "transfers": _TRANSFERS},
    keeps=("orders", "refunds", "transfers"),
)
