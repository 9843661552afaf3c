"""What a payment buys: each purpose ('community_entry', 'collection_share', 'app', 'meetup', ...) is owned
by a domain, which declares it in its `Domain` (service/core/domain.py); `install` puts the declared purposes
of the one domain list (service/domains.py) in force when the app or the worker starts.

- `on_paid(conn, order)` runs inside the transaction that records the payment, exactly once per order. It
  grants what was bought (admits the member, marks the share paid) or returns `Refuse(reason, message)` when
  it cannot (community full, collection cancelled): the payment is then refunded automatically, in full.
  Raising instead rolls the payment back and WeChat sends the notification again later.
- `on_refund(conn, order, refund)` runs inside the transaction that creates a payer's or an admin's refund
  (not the automatic ones after `Refuse`): take back what was bought (the member leaves). Raising a `Problem`
  refuses the refund (its transaction rolls back): a rule read again under the purpose's own locks.
- `on_transfer(conn, transfer)` runs when a merchant transfer of that purpose reaches a final state.
- `payer_refund_window(conn, order)`: how long after payment the payer may ask for a refund (None: never);
  without the hook, the `CHECKOUT_REFUND_WINDOW` setting (72 hours by default).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Self

import asyncpg


class _FromRow:
    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Self:
        """From an orders or transfers row, which has a column of each field's name."""
        return cls(**{f.name: row[f.name] for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class PaidOrder(_FromRow):
    id: int
    out_trade_no: str
    payer_user_id: int
    purpose: str
    subject_id: int | None
    amount_fen: int
    paid_at: datetime | None


@dataclass(frozen=True)
class RefundInfo:
    id: int
    amount_fen: int
    initiated_by: str  # payer | admin | system
    reason: str


@dataclass(frozen=True)
class TransferInfo(_FromRow):
    id: int
    payee_user_id: int
    purpose: str
    subject_id: int | None
    amount_fen: int
    status: str  # succeeded | failed | cancelled
    dedupe_key: str


@dataclass(frozen=True)
class Refuse:
    """Returned by `on_paid`: the payment cannot be honoured and is refunded. `reason` is a stable code."""

    reason: str
    message: str = ""


OnPaid = Callable[[asyncpg.Connection, PaidOrder], Awaitable[Refuse | None]]
OnRefund = Callable[[asyncpg.Connection, PaidOrder, RefundInfo], Awaitable[None]]
OnTransfer = Callable[[asyncpg.Connection, TransferInfo], Awaitable[None]]
RefundWindow = Callable[[asyncpg.Connection, PaidOrder], Awaitable[timedelta | None]]


@dataclass(frozen=True)
class Purpose:
    name: str
    on_paid: OnPaid
    on_refund: OnRefund | None = None
    on_transfer: OnTransfer | None = None
    payer_refund_window: RefundWindow | None = None


_purposes: dict[str, Purpose] = {}


def install_purposes(purposes: list[Purpose]) -> None:
    """Put the declared purposes in force for this process (the app and the worker, from one domain list)."""
    table: dict[str, Purpose] = {}
    for purpose in purposes:
        if purpose.name in table:
            raise ValueError(f"checkout purpose {purpose.name!r} is declared twice")
        table[purpose.name] = purpose
    _purposes.clear()
    _purposes.update(table)


def declared_purposes() -> frozenset[str]:
    return frozenset(_purposes)


def get_purpose(name: str) -> Purpose | None:
    return _purposes.get(name)
