"""WeChat Pay v3 cryptography: nonces, SHA256withRSA signatures of requests, answers and notifications, the
`Authorization` header, AEAD_AES_256_GCM with the APIv3 key, and loading keys and certificates from PEM.

Nothing here talks to a network or reads settings: the client, the Pay sandbox and the tests share it.
"""

from __future__ import annotations

import base64
import logging
import secrets
import string
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.settings import SettingsError

log = logging.getLogger("service.wechat.pay")

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"


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


# --- keys --------------------------------------------------------------------------------------------------


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
