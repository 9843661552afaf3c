"""WeChat Pay v3 for the mini program (JSAPI): a small client over `cryptography` on the app's httpx client.

Why not the `wechatpayv3` library at run time: its gateway is a private attribute fixed to the real host
(the sandbox cannot be reached), its async core opens an httpx client of its own (the app shares one),
its callback check never rejects stale timestamps and insists on `Wechatpay-Signature-Type`. What is left is
small: RSA-SHA256 signatures, AES-256-GCM and a handful of JSON calls. The tests check this module against
wechatpayv3 as an independent implementation (same signatures, same decryption, accepted both ways).

Modes (see WECHAT.md):
- public-key mode (the default for merchants since 2024): WeChat signs with the key `WECHAT_PAY_PUBLIC_KEY`
  whose id `PUB_KEY_ID_...` arrives in `Wechatpay-Serial`;
- certificate mode (older merchants): `WECHAT_PAY_PLATFORM_CERTS` lists platform certificate PEM files (from
  WeChat's certificate download tool); the serial of each certificate, in hex, arrives in `Wechatpay-Serial`.
Both may be configured at once, as during WeChat's switch from certificates to the public key: every answer
and notification is verified with the key its `Wechatpay-Serial` names, never with "the" key.

Without a merchant id (development, tests) the client talks to the Pay sandbox (service/wechat/sandbox/pay.py)
with sandbox keys: persisted in `.data/pay-sandbox` in development (the sandbox process reads the same
files), generated in memory in tests.
"""

from __future__ import annotations

import base64
import functools
import logging
import secrets
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.settings import Settings, SettingsError

log = logging.getLogger("service.wechat.pay")

GATEWAY = "https://api.mch.weixin.qq.com"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
BEIJING = timezone(timedelta(hours=8))
SANDBOX_APPID = "wxsandbox0000000001"  # settings.sandbox_appid: one appid for login and Pay
SANDBOX_MCHID = "1900000109"
SANDBOX_MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
SANDBOX_PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092025010100000000000001"
DEV_KEYS_DIR = Path(".data/pay-sandbox")
# Answers we may retry: WeChat's own trouble, rate limits and a merchant balance that may be topped up.
# Merchant transfers: WeChat refuses less than 0.1 yuan, and asks the payee's real name (which we do not hold)
# from 2,000 yuan.
MIN_TRANSFER_FEN = 10
MAX_UNNAMED_TRANSFER_FEN = 199_999
RETRYABLE_CODES = frozenset({"SYSTEM_ERROR", "SYSTEMERROR", "FREQUENCY_LIMITED", "NOT_ENOUGH", "BANKERROR"})


# --- signatures and encryption -----------------------------------------------------------------------------


def new_nonce(length: int = 32) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def rsa_sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """SHA256withRSA (PKCS#1 v1.5), base64: every signature of WeChat Pay v3."""
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(public_key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def request_message(method: str, url: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What a merchant signs: METHOD, the URL path with its query, timestamp, nonce and body, one per line."""
    return f"{method}\n{url}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def answer_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What WeChat signs on answers and notifications: timestamp, nonce and the raw body."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def authorization_header(
    *,
    mchid: str,
    serial: str,
    private_key: rsa.RSAPrivateKey,
    method: str,
    url: str,
    body: bytes,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> str:
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or new_nonce()
    signature = rsa_sign(private_key, request_message(method, url, timestamp, nonce, body))
    return (
        f'{SIGNATURE_TYPE} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial}"'
    )


def parse_authorization(header: str) -> dict[str, str] | None:
    """The fields of a WECHATPAY2-SHA256-RSA2048 Authorization header, or None when it is not one."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme != SIGNATURE_TYPE:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return None
        fields[key] = value.strip('"')
    return fields


def aes_gcm_decrypt(apiv3_key: bytes, nonce: str, ciphertext: str, associated_data: str) -> bytes:
    """AEAD_AES_256_GCM with the APIv3 key; raises InvalidTag when the key or the data is wrong."""
    return AESGCM(apiv3_key).decrypt(nonce.encode(), base64.b64decode(ciphertext), associated_data.encode())


def aes_gcm_encrypt(apiv3_key: bytes, plaintext: bytes, associated_data: str, nonce: str | None = None) -> dict:
    """The `resource` object WeChat puts in notifications (the sandbox and tests build them)."""
    nonce = nonce or new_nonce(12)
    ciphertext = AESGCM(apiv3_key).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def signed_headers(private_key: rsa.RSAPrivateKey, serial: str, body: bytes, timestamp: int | None = None) -> dict:
    """The headers WeChat signs its answers and notifications with (the sandbox and tests use it)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = new_nonce()
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": rsa_sign(private_key, answer_message(stamp, nonce, body)),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }


class SignatureRejected(Exception):
    """An answer or notification that is not provably WeChat's, fresh: `reason` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason  # missing_headers | unknown_serial | stale | bad_signature
        super().__init__(detail)


def verify_signed(
    keys: Mapping[str, rsa.RSAPublicKey],
    headers: Mapping[str, str],
    body: bytes,
    *,
    max_age: int,
    now: float | None = None,
) -> None:
    """Check WeChat's signature over the raw body with the key `Wechatpay-Serial` names, and its freshness."""
    headers = {name.lower(): value for name, value in headers.items()}
    timestamp = headers.get("wechatpay-timestamp")
    nonce = headers.get("wechatpay-nonce")
    signature = headers.get("wechatpay-signature")
    serial = headers.get("wechatpay-serial")
    if not (timestamp and nonce and signature and serial):
        raise SignatureRejected("missing_headers", "Wechatpay-Timestamp, -Nonce, -Signature and -Serial are required")
    signature_type = headers.get("wechatpay-signature-type")
    if signature_type and signature_type != SIGNATURE_TYPE:
        raise SignatureRejected("bad_signature", f"unsupported signature type {signature_type}")
    key = keys.get(serial) or keys.get(serial.upper())
    if key is None:
        raise SignatureRejected("unknown_serial", f"no WeChat Pay key with serial {serial[:64]}")
    if not timestamp.isdigit():
        raise SignatureRejected("stale", "Wechatpay-Timestamp is not a number")
    skew = abs((time.time() if now is None else now) - int(timestamp))
    if skew > max_age:
        raise SignatureRejected("stale", f"Wechatpay-Timestamp is {int(skew)} s away from now")
    if not rsa_verify(key, answer_message(timestamp, nonce, body), signature):
        raise SignatureRejected("bad_signature", "Wechatpay-Signature does not match the body")


# --- keys and configuration --------------------------------------------------------------------------------


def _pem_text(value: str) -> bytes:
    """A setting holding PEM text, or the path of a PEM file."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return text.encode()
    return Path(text).expanduser().read_bytes()


def load_private_key(value: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(_pem_text(value), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SettingsError("WECHAT_PAY_PRIVATE_KEY must be an RSA private key")
    return key


def load_public_key(value: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(_pem_text(value))
    if not isinstance(key, rsa.RSAPublicKey):
        raise SettingsError("WECHAT_PAY_PUBLIC_KEY must be an RSA public key")
    return key


def certificate_keys(paths: str) -> dict[str, rsa.RSAPublicKey]:
    """Certificate mode: platform certificates by serial (upper-case hex, as `Wechatpay-Serial` sends it)."""
    keys = {}
    for path in filter(None, (p.strip() for p in paths.split(","))):
        certificate = x509.load_pem_x509_certificate(_pem_text(path))
        if certificate.not_valid_after_utc < datetime.now(UTC):
            log.warning("expired WeChat Pay platform certificate ignored", extra={"path": path})
            continue
        keys[f"{certificate.serial_number:X}"] = certificate.public_key()
    return keys


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class SandboxKeys:
    """The keys the app and the Pay sandbox share when no merchant is configured. Never real secrets."""

    merchant_key: rsa.RSAPrivateKey
    platform_key: rsa.RSAPrivateKey
    apiv3_key: str
    mchid: str = SANDBOX_MCHID
    merchant_serial: str = SANDBOX_MERCHANT_SERIAL
    public_key_id: str = SANDBOX_PUBLIC_KEY_ID
    appid: str = SANDBOX_APPID

    @classmethod
    def generate(cls, **ids: str) -> SandboxKeys:
        return cls(new_rsa_key(), new_rsa_key(), secrets.token_hex(16), **ids)

    def settings_overrides(self, api_base: str) -> dict[str, str]:
        """Settings that point the app at a sandbox holding these keys (tests, `make run`)."""
        return {
            "wechat_pay_mchid": self.mchid,
            "wechat_pay_merchant_serial": self.merchant_serial,
            "wechat_pay_private_key": private_pem(self.merchant_key),
            "wechat_pay_apiv3_key": self.apiv3_key,
            "wechat_pay_public_key": public_pem(self.platform_key.public_key()),
            "wechat_pay_public_key_id": self.public_key_id,
            "wechat_pay_api_base": api_base,
        }


def load_dev_keys(directory: Path = DEV_KEYS_DIR) -> SandboxKeys:
    """Development sandbox keys, created once and kept (git-ignored) so the app and the sandbox agree."""
    merchant, platform, apiv3 = directory / "merchant.pem", directory / "platform.pem", directory / "apiv3.key"
    if not (merchant.exists() and platform.exists() and apiv3.exists()):
        directory.mkdir(parents=True, exist_ok=True)
        keys = SandboxKeys.generate()
        for path, text in (
            (merchant, private_pem(keys.merchant_key)),
            (platform, private_pem(keys.platform_key)),
            (apiv3, keys.apiv3_key),
        ):
            path.write_text(text)
            path.chmod(0o600)
    return SandboxKeys(
        merchant_key=load_private_key(str(merchant)),
        platform_key=load_private_key(str(platform)),
        apiv3_key=apiv3.read_text().strip(),
    )


@functools.cache
def _test_keys() -> SandboxKeys:
    return SandboxKeys.generate()


@dataclass(frozen=True)
class PayConfig:
    appid: str
    mchid: str
    merchant_serial: str
    merchant_key: rsa.RSAPrivateKey
    apiv3_key: bytes
    # Keys that verify WeChat, by the `Wechatpay-Serial` they arrive with (public key id, certificate serials).
    platform_keys: dict[str, rsa.RSAPublicKey]
    # What we send as `Wechatpay-Serial` (the key WeChat should expect us to have).
    platform_serial: str
    api_base: str
    notify_base_url: str
    transfer_scene_id: str = "1000"
    max_age: int = 300
    sandbox: bool = False

    @property
    def notify_url(self) -> str:
        return f"{self.notify_base_url}/v1/pay/notify"

    @property
    def refund_notify_url(self) -> str:
        return f"{self.notify_base_url}/v1/pay/refund-notify"

    @property
    def transfer_notify_url(self) -> str:
        return f"{self.notify_base_url}/v1/pay/transfer-notify"


def pay_config(settings: Settings) -> PayConfig:
    """Build the Pay configuration from settings (sandbox keys when no merchant is configured)."""
    appid = settings.wechat_appid or settings.sandbox_appid
    notify_base = (settings.wechat_pay_notify_base_url or settings.public_base_url).rstrip("/")
    common = {
        "appid": appid,
        "notify_base_url": notify_base,
        "transfer_scene_id": settings.wechat_pay_transfer_scene_id,
        "max_age": settings.wechat_pay_max_age,
    }
    if not settings.wechat_pay_mchid:
        if settings.environment == "production":
            raise SettingsError("WECHAT_PAY_MCHID and its keys are required when ENVIRONMENT=production")
        keys = _test_keys() if settings.environment == "test" else load_dev_keys()
        base = settings.wechat_pay_api_base or f"http://{settings.sandbox_host}:{settings.sandbox_port}"
        return PayConfig(
            mchid=keys.mchid,
            merchant_serial=keys.merchant_serial,
            merchant_key=keys.merchant_key,
            apiv3_key=keys.apiv3_key.encode(),
            platform_keys={keys.public_key_id: keys.platform_key.public_key()},
            platform_serial=keys.public_key_id,
            api_base=base.rstrip("/"),
            sandbox=True,
            **common,
        )
    missing = [
        name.upper()
        for name in ("wechat_pay_merchant_serial", "wechat_pay_private_key", "wechat_pay_apiv3_key")
        if not getattr(settings, name)
    ]
    if missing:
        raise SettingsError(f"{', '.join(missing)} required with WECHAT_PAY_MCHID")
    apiv3_key = settings.wechat_pay_apiv3_key.encode()
    if len(apiv3_key) != 32:
        raise SettingsError("WECHAT_PAY_APIV3_KEY must be the 32-character APIv3 key")
    platform_keys: dict[str, rsa.RSAPublicKey] = {}
    serial = ""
    if settings.wechat_pay_platform_certs:
        platform_keys.update(certificate_keys(settings.wechat_pay_platform_certs))
        serial = next(iter(platform_keys), "")
    if settings.wechat_pay_public_key or settings.wechat_pay_public_key_id:
        if not (settings.wechat_pay_public_key and settings.wechat_pay_public_key_id):
            raise SettingsError("WECHAT_PAY_PUBLIC_KEY and WECHAT_PAY_PUBLIC_KEY_ID must be set together")
        platform_keys[settings.wechat_pay_public_key_id] = load_public_key(settings.wechat_pay_public_key)
        serial = settings.wechat_pay_public_key_id  # public-key mode wins once configured
    if not platform_keys:
        raise SettingsError("set WECHAT_PAY_PUBLIC_KEY(_ID) (public-key mode) or WECHAT_PAY_PLATFORM_CERTS")
    return PayConfig(
        mchid=settings.wechat_pay_mchid,
        merchant_serial=settings.wechat_pay_merchant_serial,
        merchant_key=load_private_key(settings.wechat_pay_private_key),
        apiv3_key=apiv3_key,
        platform_keys=platform_keys,
        platform_serial=serial,
        api_base=(settings.wechat_pay_api_base or GATEWAY).rstrip("/"),
        **common,
    )


# --- WeChat's messages -------------------------------------------------------------------------------------


class Amount(msgspec.Struct, frozen=True):
    total: int
    payer_total: int | None = None
    currency: str = "CNY"


class Payer(msgspec.Struct, frozen=True):
    openid: str = ""


class Transaction(msgspec.Struct, frozen=True):
    """An order as WeChat knows it (query answer, TRANSACTION.SUCCESS plaintext)."""

    appid: str
    mchid: str
    out_trade_no: str
    trade_state: str  # SUCCESS | REFUND | NOTPAY | CLOSED | REVOKED | USERPAYING | PAYERROR
    transaction_id: str | None = None
    trade_state_desc: str = ""
    success_time: str | None = None
    amount: Amount | None = None
    payer: Payer | None = None


class RefundAmount(msgspec.Struct, frozen=True):
    total: int
    refund: int
    payer_total: int | None = None
    payer_refund: int | None = None


class Refund(msgspec.Struct, frozen=True):
    """A refund (refund answer and query: `status`; REFUND.* plaintext: `refund_status`)."""

    out_refund_no: str
    out_trade_no: str = ""
    refund_id: str = ""
    status: str = ""  # SUCCESS | CLOSED | PROCESSING | ABNORMAL
    refund_status: str = ""
    success_time: str | None = None
    amount: RefundAmount | None = None
    mchid: str = ""

    @property
    def state(self) -> str:
        return self.status or self.refund_status


class TransferBill(msgspec.Struct, frozen=True):
    """A merchant transfer (answer, query, MCHTRANSFER.BILL.FINISHED plaintext)."""

    out_bill_no: str
    state: str  # ACCEPTED | PROCESSING | WAIT_USER_CONFIRM | TRANSFERING | SUCCESS | FAIL | CANCELING | CANCELLED
    transfer_bill_no: str = ""
    package_info: str | None = None
    transfer_amount: int | None = None
    openid: str | None = None
    fail_reason: str | None = None
    mch_id: str = ""


class _Resource(msgspec.Struct, frozen=True):
    algorithm: str
    ciphertext: str
    nonce: str
    associated_data: str = ""
    original_type: str = ""


class _Envelope(msgspec.Struct, frozen=True):
    id: str
    event_type: str
    resource: _Resource
    resource_type: str = "encrypt-resource"
    create_time: str = ""
    summary: str = ""


class Notification(msgspec.Struct, frozen=True):
    id: str
    event_type: str
    plaintext: bytes

    def decode(self, kind: type[Any]) -> Any:
        return msgspec.json.decode(self.plaintext, type=kind)


class NotificationRejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason  # a SignatureRejected reason, or malformed | undecryptable
        super().__init__(detail)


class PayError(Exception):
    """WeChat Pay answered with an error (`code` is WeChat's, e.g. ORDERPAID), or could not be reached."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"WeChat Pay {status} {code}: {message}")

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status >= 500 or self.code in RETRYABLE_CODES


class _ErrorBody(msgspec.Struct):
    code: str = "UNKNOWN"
    message: str = ""


# --- the client --------------------------------------------------------------------------------------------


class WeChatPay:
    """WeChat Pay v3 over the app's shared httpx client. Build it with settings; keys load on first use."""

    def __init__(self, source: PayConfig | Callable[[], PayConfig], http: httpx.AsyncClient) -> None:
        self.source = source
        self.http = http
        self._config: PayConfig | None = None

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient) -> WeChatPay:
        return cls(functools.partial(pay_config, settings), http)

    @property
    def config(self) -> PayConfig:
        if self._config is None:
            self._config = self.source if isinstance(self.source, PayConfig) else self.source()
        return self._config

    async def _call(self, method: str, path: str, payload: Any = None) -> tuple[int, bytes]:
        config = self.config
        body = b"" if payload is None else msgspec.json.encode(payload)
        headers = {
            "Authorization": authorization_header(
                mchid=config.mchid,
                serial=config.merchant_serial,
                private_key=config.merchant_key,
                method=method,
                url=path,
                body=body,
            ),
            "Accept": "application/json",
            "Wechatpay-Serial": config.platform_serial,
            "User-Agent": "community-service",
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = await self.http.request(method, config.api_base + path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise PayError(0, "UNREACHABLE", f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 300:
            try:
                error = msgspec.json.decode(response.content, type=_ErrorBody)
            except msgspec.DecodeError:
                error = _ErrorBody(code="HTTP_ERROR", message=response.text[:200])
            raise PayError(response.status_code, error.code, error.message)
        try:
            verify_signed(config.platform_keys, response.headers, response.content, max_age=config.max_age)
        except SignatureRejected as exc:
            log.error("WeChat Pay answer failed verification", extra={"path": path, "reason": exc.reason})
            raise PayError(response.status_code, "ANSWER_NOT_VERIFIED", str(exc)) from None
        return response.status_code, response.content

    async def create_jsapi_order(
        self,
        *,
        out_trade_no: str,
        description: str,
        amount_fen: int,
        payer_openid: str,
        time_expire: datetime,
        attach: str | None = None,
    ) -> str:
        """Place a JSAPI order; returns its prepay_id. Placing the same order again returns the same id."""
        config = self.config
        payload = {
            "appid": config.appid,
            "mchid": config.mchid,
            "description": description[:127],
            "out_trade_no": out_trade_no,
            "time_expire": format_time(time_expire),
            "notify_url": config.notify_url,
            "amount": {"total": amount_fen, "currency": "CNY"},
            "payer": {"openid": payer_openid},
        }
        if attach:
            payload["attach"] = attach
        _, body = await self._call("POST", "/v3/pay/transactions/jsapi", payload)
        return msgspec.json.decode(body, type=_PrepayAnswer).prepay_id

    def payment_params(self, prepay_id: str) -> dict[str, str]:
        """The object the mini program hands to `wx.requestPayment`."""
        config = self.config
        timestamp, nonce, package = str(int(time.time())), new_nonce(), f"prepay_id={prepay_id}"
        message = f"{config.appid}\n{timestamp}\n{nonce}\n{package}\n".encode()
        return {
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": rsa_sign(config.merchant_key, message),
        }

    async def query_order(self, out_trade_no: str) -> Transaction:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}?mchid={self.config.mchid}"
        _, body = await self._call("GET", path)
        return msgspec.json.decode(body, type=Transaction)

    async def close_order(self, out_trade_no: str) -> None:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close"
        await self._call("POST", path, {"mchid": self.config.mchid})

    async def refund(
        self, *, out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int, reason: str = ""
    ) -> Refund:
        payload: dict[str, Any] = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "notify_url": self.config.refund_notify_url,
            "amount": {"refund": refund_fen, "total": total_fen, "currency": "CNY"},
        }
        if reason:
            payload["reason"] = reason[:80]
        _, body = await self._call("POST", "/v3/refund/domestic/refunds", payload)
        return msgspec.json.decode(body, type=Refund)

    async def query_refund(self, out_refund_no: str) -> Refund:
        _, body = await self._call("GET", f"/v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}")
        return msgspec.json.decode(body, type=Refund)

    async def transfer(
        self, *, out_bill_no: str, openid: str, amount_fen: int, remark: str, perception: str | None = None
    ) -> TransferBill:
        """Merchant transfer to a member; the answer's `package_info` goes to `wx.requestMerchantTransfer`."""
        config = self.config
        payload: dict[str, Any] = {
            "appid": config.appid,
            "out_bill_no": out_bill_no,
            "transfer_scene_id": config.transfer_scene_id,
            "openid": openid,
            "transfer_amount": amount_fen,
            "transfer_remark": remark[:32],
            "notify_url": config.transfer_notify_url,
            "transfer_scene_report_infos": [
                {"info_type": "活动名称", "info_content": "社群收款结算"},
                {"info_type": "奖励说明", "info_content": remark[:32]},
            ],
        }
        if perception:
            payload["user_recv_perception"] = perception
        _, body = await self._call("POST", "/v3/fund-app/mch-transfer/transfer-bills", payload)
        return msgspec.json.decode(body, type=TransferBill)

    async def query_transfer(self, out_bill_no: str) -> TransferBill:
        path = f"/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{quote(out_bill_no, safe='')}"
        _, body = await self._call("GET", path)
        return msgspec.json.decode(body, type=TransferBill)

    def open_notification(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> Notification:
        """Verify a notification over its raw body, then decrypt its resource. Raises NotificationRejected."""
        config = self.config
        try:
            verify_signed(config.platform_keys, headers, body, max_age=config.max_age, now=now)
        except SignatureRejected as exc:
            raise NotificationRejected(exc.reason, str(exc)) from None
        try:
            envelope = msgspec.json.decode(body, type=_Envelope)
        except msgspec.DecodeError as exc:
            raise NotificationRejected("malformed", f"not a WeChat Pay notification: {exc}") from None
        resource = envelope.resource
        if resource.algorithm != "AEAD_AES_256_GCM":
            raise NotificationRejected("malformed", f"unsupported algorithm {resource.algorithm}")
        try:
            plaintext = aes_gcm_decrypt(config.apiv3_key, resource.nonce, resource.ciphertext, resource.associated_data)
        except (InvalidTag, ValueError):
            raise NotificationRejected("undecryptable", "resource does not decrypt with the APIv3 key") from None
        return Notification(id=envelope.id, event_type=envelope.event_type, plaintext=plaintext)


class _PrepayAnswer(msgspec.Struct):
    prepay_id: str


def format_time(moment: datetime) -> str:
    """RFC 3339 in Beijing time, to the second, as WeChat's examples write it."""
    return moment.astimezone(BEIJING).replace(microsecond=0).isoformat()


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
