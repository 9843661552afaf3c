"""The Pay sandbox's keys: never real secrets. The app reaches them only through its settings.

Without a merchant of its own, the app is pointed at a Pay sandbox by the settings `pay_sandbox_settings`
gives: `python -m service run` passes the development keys (`load_dev_keys`, kept in `.data/pay-sandbox`, which
the sandbox process reads too), the tests keys generated in memory (`in_memory_keys`, or their own).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from service.settings import Settings
from service.wechat.pay.signing import load_private_key, new_rsa_key, private_pem, public_pem

SANDBOX_APPID = "wxsandbox0000000001"  # settings.sandbox_appid: one appid for login and Pay
SANDBOX_MCHID = "1900000109"
SANDBOX_MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
SANDBOX_PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092025010100000000000001"
DEV_KEYS_DIR = Path(".data/pay-sandbox")


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


def pay_sandbox_settings(settings: Settings, keys: Callable[[], SandboxKeys]) -> dict[str, str]:
    """What to add to `settings` so that the app pays through a Pay sandbox holding `keys()`, at
    WECHAT_PAY_API_BASE or else SANDBOX_HOST:SANDBOX_PORT: nothing (and no keys made) when a merchant is
    configured, or in production."""
    if settings.wechat_pay_mchid or settings.environment == "production":
        return {}
    return keys().settings_overrides(
        settings.wechat_pay_api_base or f"http://{settings.sandbox_host}:{settings.sandbox_port}"
    )


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
def in_memory_keys() -> SandboxKeys:
    """Sandbox keys generated once per process and never written (tests)."""
    return SandboxKeys.generate()
