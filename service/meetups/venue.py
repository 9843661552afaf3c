"""Venue check-in credentials: a short code shown at the venue, and a signed QR payload that expires.

The QR payload is `mv1.<meetup id>.<expiry epoch seconds>.<signature>`, the signature being the url-safe
base64 HMAC-SHA256 of the part before it, under a key derived from SECRET_KEY (HKDF, its own label), so the
payload cannot be forged or moved to another meetup, and it stops working at its expiry.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from service.errors import Problem
from service.settings import Settings, SettingsError

VERSION = "mv1"
# No 0/O, 1/I/L: read aloud and typed on a phone without mistakes. 31^6 ≈ 9 x 10^8 codes.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
_PAYLOAD = re.compile(r"^mv1\.([1-9][0-9]{0,15})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.strip().upper().encode(), expected.encode())


@functools.lru_cache(maxsize=4)
def _key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"community-service/meetup-venue-qr/v1").derive(
        secret_key.encode()
    )


def _signature(settings: Settings, message: str) -> str:
    if not settings.secret_key:
        raise SettingsError("SECRET_KEY is required to sign venue QR payloads")
    digest = hmac.new(_key(settings.secret_key), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(settings: Settings, meetup_id: int, expires_at: datetime) -> str:
    message = f"{VERSION}.{meetup_id}.{int(expires_at.timestamp())}"
    return f"{message}.{_signature(settings, message)}"


def verify(settings: Settings, payload: str, meetup_id: int, now: datetime) -> None:
    """Raise `venue_code_invalid` unless the payload is ours and for this meetup; `venue_code_expired` after
    its expiry. The signature is checked before anything the payload claims is believed."""
    match = _PAYLOAD.match(payload.strip())
    if match is None:
        raise Problem("venue_code_invalid", "not a venue QR payload")
    message = payload.strip().rsplit(".", 1)[0]
    if not hmac.compare_digest(match[3], _signature(settings, message)):
        raise Problem("venue_code_invalid", "the QR payload's signature does not verify")
    if int(match[1]) != meetup_id:
        raise Problem("venue_code_invalid", "the QR payload belongs to another meetup")
    expires_at = datetime.fromtimestamp(int(match[2]), UTC)
    if expires_at <= now:
        raise Problem("venue_code_expired", f"the QR payload expired at {expires_at.isoformat()}")
