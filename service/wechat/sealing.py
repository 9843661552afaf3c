"""Sealing session keys at rest: AES-256-GCM with a key from settings, bound to the member it belongs to.

A sealed value is ``version (1 byte) | nonce (12 bytes) | ciphertext+tag``; the associated data names the
appid and openid, so a sealed key copied onto another member's row does not open.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from service.settings import Settings, SettingsError

VERSION = b"\x01"
_NONCE_BYTES = 12


def _cipher_key(settings: Settings) -> bytes:
    if settings.session_key_cipher_key:
        try:
            key = base64.urlsafe_b64decode(settings.session_key_cipher_key.encode())
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise SettingsError("SESSION_KEY_CIPHER_KEY must be the urlsafe base64 of 32 bytes")
        return key
    if not settings.secret_key:
        raise SettingsError("SECRET_KEY (or SESSION_KEY_CIPHER_KEY) is required to seal session keys")
    # A key of its own, derived from the token-signing secret, so the two uses never share key material.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"community-service/session-key/v1").derive(
        settings.secret_key.encode()
    )


class SessionKeySealer:
    def __init__(self, settings: Settings) -> None:
        self._aead = AESGCM(_cipher_key(settings))

    def seal(self, session_key: str, *, appid: str, openid: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, session_key.encode(), _context(appid, openid))

    def open(self, sealed: bytes, *, appid: str, openid: str) -> str | None:
        """The session key, or None when it was sealed for someone else or with another key."""
        if len(sealed) <= 1 + _NONCE_BYTES or sealed[:1] != VERSION:
            return None
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, _context(appid, openid)).decode()
        except InvalidTag:
            return None


def _context(appid: str, openid: str) -> bytes:
    return f"session_key:{appid}:{openid}".encode()
