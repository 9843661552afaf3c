"""Money, the checkout engine: orders paid through WeChat Pay, exactly-once payments, refunds, transfers and the
ledger. Domains call the names below; what a payment buys is a purpose they declare (purposes.py).

Money state changes happen in one transaction under the order's row lock (refunds: the order's lock, then the
refund's), and each money movement writes one ledger row guarded by a unique index, so duplicated, reordered
or concurrent notifications, reconciliation queries and job re-runs apply each fact once. WeChat is never
called inside a database transaction.

orders.py      create, place with WeChat, show, close and expire orders
payments.py    a payment recorded once (notification or query), granted or refused by its purpose
refunds.py     refunds promised under the order's lock
transfers.py   merchant transfers to members
operations.py  the one state machine that follows a refund or a transfer at WeChat to its final state
notifications.py, numbers.py, queries.py, models.py, examples.py: what those share
"""

from service.core.money.notifications import read_notification
from service.core.money.orders import (
    Checkout,
    close_order,
    create_order,
    expire_order,
    get_order,
    ledger_violations,
    order_of_key,
    subject_orders,
)
from service.core.money.payments import apply_transaction, reconcile_order
from service.core.money.refunds import (
    apply_refund,
    refund_order,
    refund_view,
    request_refund,
    submit_refund,
)
from service.core.money.transfers import apply_transfer, create_transfer, get_transfer, submit_transfer

__all__ = [
    "Checkout",
    "apply_refund",
    "apply_transaction",
    "apply_transfer",
    "close_order",
    "create_order",
    "create_transfer",
    "expire_order",
    "get_order",
    "get_transfer",
    "ledger_violations",
    "order_of_key",
    "read_notification",
    "reconcile_order",
    "refund_order",
    "refund_view",
    "request_refund",
    "subject_orders",
    "submit_refund",
    "submit_transfer",
]
