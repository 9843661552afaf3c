"""What WeChat Pay tells us, checked before it changes anything: notifications verified and decrypted, and data
that disagrees with our records refused (`pay_notification_mismatch`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TypeVar

from service.errors import Problem
from service.wechat.pay import NotificationRejected, WeChatPay

log = logging.getLogger("service.checkout")

T = TypeVar("T")

_REJECTIONS = {
    "missing_headers": "pay_signature_invalid",
    "bad_signature": "pay_signature_invalid",
    "unknown_serial": "pay_serial_unknown",
    "stale": "pay_notification_stale",
    "malformed": "pay_notification_malformed",
    "undecryptable": "pay_notification_malformed",
}


def read_notification(pay: WeChatPay, headers: Mapping[str, str], body: bytes, event: str, kind: type[T]) -> T | None:
    """The resource of a verified notification of `event` (or of one of its sub-events: `REFUND` takes
    `REFUND.SUCCESS`), decoded as `kind`; None for other events, which are acknowledged and ignored."""
    try:
        notification = pay.open_notification(headers, body)
    except NotificationRejected as exc:
        log.warning("WeChat Pay notification rejected", extra={"reason": exc.reason, "detail": str(exc)})
        raise Problem(_REJECTIONS[exc.reason], str(exc)) from None
    if notification.event_type != event and not notification.event_type.startswith(f"{event}."):
        return None
    try:
        return notification.decode(kind)
    except (ValueError, TypeError) as exc:
        raise Problem("pay_notification_malformed", f"unexpected resource: {exc}") from None


def mismatch(what: str, **extra) -> Problem:
    log.error("WeChat Pay data disagrees with our record", extra={"mismatch": what, **extra})
    return Problem("pay_notification_mismatch", what)
