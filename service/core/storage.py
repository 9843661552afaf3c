"""Object storage for media, through obstore: a local folder for `make run` and tests, or any S3-compatible
bucket in production (Tencent COS, MinIO, AWS), chosen by settings.

Nothing is ever public: readers get signed, expiring GET URLs. A bucket signs them itself (S3 presigning); the
local folder is served by the app at /v1/media/files/{key}, which checks an HMAC over the key and the expiry.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import time
from datetime import timedelta
from pathlib import Path

import obstore
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import LocalStore, S3Store

from service.settings import Settings, SettingsError

# Local files are served at LOCAL_FILES + the key's name in the store's "media/" folder.
LOCAL_FILES = "/v1/media/files/"
LOCAL_PREFIX = "media/"


@functools.lru_cache(maxsize=4)
def _url_key(secret_key: str) -> bytes:
    # A key of its own, derived from the token-signing secret, so the two uses never share key material.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"community-service/media-url/v1").derive(
        secret_key.encode()
    )


def local_signature(settings: Settings, key: str, expires: int) -> str:
    if not settings.secret_key:
        raise SettingsError("SECRET_KEY is required to sign media URLs")
    digest = hmac.new(_url_key(settings.secret_key), f"{key}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def local_url_valid(settings: Settings, key: str, expires: int, signature: str, now: float | None = None) -> bool:
    """The signature is checked before the expiry is believed; an expired URL is refused even when well signed."""
    expected = local_signature(settings, key, expires)
    return hmac.compare_digest(expected.encode(), signature.encode()) and (now or time.time()) < expires


class StorageUnavailable(Exception):
    """A write the store did not take: the bucket unreachable (after obstore's retries), a 5xx, missing or refusing,
    or the local folder unwritable. Nothing that depends on the write may be recorded."""


class Storage:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        if settings.media_s3_bucket:
            config = {"region": settings.media_s3_region}
            if settings.media_s3_endpoint:
                config["endpoint"] = settings.media_s3_endpoint
            if settings.media_s3_access_key_id and settings.media_s3_secret_access_key:
                config["access_key_id"] = settings.media_s3_access_key_id
                config["secret_access_key"] = settings.media_s3_secret_access_key
            allow_http = (settings.media_s3_endpoint or "").startswith("http://")
            self._store: LocalStore | S3Store = S3Store(
                settings.media_s3_bucket, config=config, client_options={"allow_http": allow_http}
            )
            self.local = False
        else:
            folder = Path(settings.media_dir).resolve()
            folder.mkdir(parents=True, exist_ok=True)
            self._store = LocalStore(folder)
            self.local = True

    @property
    def ttl(self) -> int:
        """How long a URL from `url()` works, at least."""
        return self._settings.media_url_ttl

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        # LocalStore keeps no attributes: the app serves local files by their extension instead.
        attributes = None if self.local else {"Content-Type": content_type, "Cache-Control": "private, max-age=86400"}
        try:
            await obstore.put_async(self._store, key, data, attributes=attributes)
        except (BaseError, OSError) as exc:  # a missing bucket is FileNotFoundError, a closed port GenericError
            raise StorageUnavailable(f"{type(exc).__name__}: {str(exc)[:200]}") from exc

    async def read(self, key: str) -> bytes | None:
        try:
            result = await obstore.get_async(self._store, key)
        except (FileNotFoundError, NotFoundError):
            return None
        return bytes(await result.bytes_async())

    async def delete(self, key: str) -> None:
        try:
            await obstore.delete_async(self._store, key)
        except (FileNotFoundError, NotFoundError):
            pass  # already gone: deleting is idempotent

    async def urls(self, keys: list[str]) -> dict[str, str]:
        """Signed URLs for many keys at once (a feed page's photos): one call to the signer for a bucket."""
        if self.local or not keys:
            return {key: await self.url(key) for key in keys}
        signed = await obstore.sign_async(self._store, "GET", keys, timedelta(seconds=self.ttl))
        return dict(zip(keys, signed, strict=True))

    async def url(self, key: str, ttl: int | None = None) -> str:
        """A GET URL that works without our token until it expires (WeChat's image check fetches it too)."""
        ttl = ttl or self.ttl
        if not self.local:
            return await obstore.sign_async(self._store, "GET", key, timedelta(seconds=ttl))
        # Whole minutes, so the URLs a page hands out within a minute are identical (the client's cache works).
        expires = (int(time.time()) // 60 + 1) * 60 + ttl
        signature = local_signature(self._settings, key, expires)
        base = self._settings.public_base_url.rstrip("/")
        return f"{base}{LOCAL_FILES}{key.removeprefix(LOCAL_PREFIX)}?expires={expires}&signature={signature}"
