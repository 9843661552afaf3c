"""The core's problem codes (membership access, apps, idempotency, money, CSV exports), under WeChat's: every domain's
table extends this one (service/errors.py)."""

from __future__ import annotations

from service.errors import Code
from service.wechat.errors import WECHAT

SHARED = WECHAT.extend(
    Code("not_member", 403, "You are not a member of this community (or no longer are)."),
    Code("member_muted", 403, "An admin muted you in this community for a while."),
    Code("blocked", 403, "This member blocked you: you cannot reply to, mention, notify or collect from them."),
    Code("introduction_required", 403, "This community asks newcomers to introduce themselves before posting."),
    Code("app_disabled", 409, "This app is switched off in this community, or its paid period has ended."),
    Code("operator_only", 403, "Only the platform operator (X-Operator-Key) may do this."),
    Code("media_rejected", 422, "An image did not pass WeChat's image check: remove it.", action="fix"),
    Code(
        "idempotency_key_reused",
        422,
        "This Idempotency-Key was already used for a different request: use a new key per request.",
        action="fix",
    ),
    Code(
        "pay_signature_invalid",
        401,
        "The WeChat Pay signature does not verify: forged or altered notification.",
        action="wechat",
    ),
    Code("pay_serial_unknown", 401, "Wechatpay-Serial names no WeChat Pay key we hold.", action="wechat"),
    Code(
        "pay_notification_stale", 401, "The notification is signed more than 5 minutes away from now.", action="wechat"
    ),
    Code(
        "pay_notification_malformed",
        400,
        "Not a WeChat Pay notification, or its resource does not decrypt.",
        action="wechat",
    ),
    Code(
        "pay_notification_mismatch",
        409,
        "The notification disagrees with our record (amount, payer, appid, mchid).",
        action="wechat",
    ),
    Code(
        "pay_notification_unknown", 404, "The notification names no order, refund or transfer of ours.", action="wechat"
    ),
    Code("payment_unavailable", 503, "WeChat Pay cannot be reached right now: retry shortly."),
    Code("order_not_paid", 409, "The order is not paid, or is already refunded."),
    Code("order_already_paid", 409, "The order has been paid meanwhile."),
    Code(
        "refund_exceeds_remaining", 409, "The amount is more than what is left to refund on the order (see `detail`)."
    ),
    Code("refund_window_closed", 409, "The refund window of this order has passed."),
    Code("refund_not_allowed", 403, "This purchase cannot be refunded by its payer."),
    Code("export_window_too_long", 400, "The export's window (from..to) must be 1 to 366 days, in order."),
    Code("export_too_large", 422, "The export would hold more than 50,000 rows: narrow the window.", action="fix"),
    Code("order_paid_out", 409, "The order's money has been paid out to the community's owner: it cannot be refunded."),
)
