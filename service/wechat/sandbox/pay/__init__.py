"""The WeChat Pay v3 sandbox: the endpoints the app calls, with WeChat's shapes, signatures and error codes.

It verifies the merchant's request signatures (401 SIGN_ERROR otherwise), signs every answer and notification
with its own RSA key (the "WeChat Pay public key" of public-key mode, id `public_key_id`), and encrypts
notification resources with the APIv3 key (AEAD_AES_256_GCM). State lives in memory.

The modules: `ledger` (orders, refunds, transfers and their states), `requests` (the merchant's request bodies),
`notifications` (building, keeping and delivering them), `sandbox` (PaySandbox: signature checks, signed answers,
faults), `routes` (the HTTP endpoints and control calls). Its keys: service/wechat/sandbox/keys.py.

Emulated (WECHAT.md): JSAPI order, query by out_trade_no, close, refund, refund query, merchant transfer and its
query. Control calls, unsigned, for tests and local development (JSON in camelCase):
- `POST /sandbox/pay {"prepayId", "result": "success"|"fail", "drop"}`: the member pays (or the payment fails:
  WeChat sends nothing then, the order stays payable as PAYERROR); success sends TRANSACTION.SUCCESS to the
  order's notify_url, unless `drop` (or the global `dropNotifications`) loses it, as WeChat sometimes does.
- `GET /sandbox/pay/notifications`, `POST /sandbox/pay/notifications/{id}/replay {"resign"}`: past notifications
  and resending one (duplicates arrive by design; `resign: false` resends the original, now stale, headers).
- `GET /sandbox/pay/refunds?outTradeNo=`: the refunds, each with the `reason` WeChat shows the payer in its
  refund message (what they read). `POST /sandbox/pay/refunds {"outRefundNo", "result": "success"|"abnormal"|
  "closed"}`: finish a refund when `autoCompleteRefunds` is off (by default refunds succeed and notify right
  after the answer).
- `POST /sandbox/pay/transfers {"outBillNo", "result": "success"|"fail"|"cancelled"}`: the member confirms
  (or not) a merchant transfer; sends MCHTRANSFER.BILL.FINISHED.
- `POST /sandbox/pay/faults {"operation", "status", "code", "times", "delaySeconds"}`: the next `times` calls of
  an operation fail with that error (or are delayed), to test retries.
- `PUT /sandbox/pay/settings {"dropNotifications", "autoCompleteRefunds"}`, `GET /sandbox/pay/keys`.
WeChat retries unacknowledged notifications for 24 hours; the sandbox sends each once and leaves retries to
the replay call, so tests decide exactly what arrives.
"""

from service.wechat.sandbox.pay.ledger import PayLedger, SandboxError, SandboxOrder, SandboxRefund, SandboxTransfer
from service.wechat.sandbox.pay.notifications import Notifier, SentNotification
from service.wechat.sandbox.pay.routes import pay_sandbox_router
from service.wechat.sandbox.pay.sandbox import Fault, PaySandbox

__all__ = [
    "Fault",
    "Notifier",
    "PayLedger",
    "PaySandbox",
    "SandboxError",
    "SandboxOrder",
    "SandboxRefund",
    "SandboxTransfer",
    "SentNotification",
    "pay_sandbox_router",
]
