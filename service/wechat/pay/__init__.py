"""WeChat Pay v3 for the mini program (JSAPI): a small client over `cryptography` on the app's httpx client.

Why not the `wechatpayv3` library at run time: its gateway is a private attribute fixed to the real host
(the sandbox cannot be reached), its async core opens an httpx client of its own (the app shares one),
its callback check never rejects stale timestamps and insists on `Wechatpay-Signature-Type`. What is left is
small: RSA-SHA256 signatures, AES-256-GCM and a handful of JSON calls. The tests check this package against
wechatpayv3 as an independent implementation (same signatures, same decryption, accepted both ways).

Modes (see WECHAT.md):
- public-key mode (the default for merchants since 2024): WeChat signs with the key `WECHAT_PAY_PUBLIC_KEY`
  whose id `PUB_KEY_ID_...` arrives in `Wechatpay-Serial`;
- certificate mode (older merchants): `WECHAT_PAY_PLATFORM_CERTS` lists platform certificate PEM files (from
  WeChat's certificate download tool); the serial of each certificate, in hex, arrives in `Wechatpay-Serial`.
Both may be configured at once, as during WeChat's switch from certificates to the public key: every answer
and notification is verified with the key its `Wechatpay-Serial` names, never with "the" key.

Without a merchant of its own (development, tests) the app is given the keys of the Pay sandbox
(service/wechat/sandbox/pay) through the same settings: `python -m service run` passes the development keys kept
in `.data/pay-sandbox` (the sandbox process reads the same files), the tests keys generated in memory
(service/wechat/sandbox/keys.py).

The modules: `signing` (signatures, AES-GCM, PEM keys), `config` (PayConfig from settings), `messages` (WeChat's
structs, time format, transfer limits), `client` (WeChatPay and its errors). Import from this package.
"""

from service.wechat.pay.client import RETRYABLE_CODES, NotificationRejected, PayError, WeChatPay
from service.wechat.pay.config import GATEWAY, PayConfig, pay_config
from service.wechat.pay.messages import (
    BEIJING,
    MAX_UNNAMED_TRANSFER_FEN,
    MIN_TRANSFER_FEN,
    Amount,
    Notification,
    Payer,
    Refund,
    RefundAmount,
    Transaction,
    TransferBill,
    format_time,
    parse_time,
)
from service.wechat.pay.signing import (
    SIGNATURE_TYPE,
    SignatureRejected,
    aes_gcm_decrypt,
    aes_gcm_encrypt,
    answer_message,
    authorization_header,
    certificate_keys,
    load_private_key,
    load_public_key,
    new_nonce,
    new_rsa_key,
    parse_authorization,
    private_pem,
    public_pem,
    request_message,
    rsa_sign,
    rsa_verify,
    signed_headers,
    verify_signed,
)

__all__ = [
    "BEIJING",
    "GATEWAY",
    "MAX_UNNAMED_TRANSFER_FEN",
    "MIN_TRANSFER_FEN",
    "RETRYABLE_CODES",
    "SIGNATURE_TYPE",
    "Amount",
    "Notification",
    "NotificationRejected",
    "PayConfig",
    "PayError",
    "Payer",
    "Refund",
    "RefundAmount",
    "SignatureRejected",
    "Transaction",
    "TransferBill",
    "WeChatPay",
    "aes_gcm_decrypt",
    "aes_gcm_encrypt",
    "answer_message",
    "authorization_header",
    "certificate_keys",
    "format_time",
    "load_private_key",
    "load_public_key",
    "new_nonce",
    "new_rsa_key",
    "parse_authorization",
    "parse_time",
    "pay_config",
    "private_pem",
    "public_pem",
    "request_message",
    "rsa_sign",
    "rsa_verify",
    "signed_headers",
    "verify_signed",
]
