"""The WeChat Pay configuration: the merchant, its keys and WeChat's, built from settings.

Settings carry all key material. Without a merchant (`WECHAT_PAY_MCHID` unset) there is no configuration: outside
production, `python -m service run` and the tests pass the keys of the Pay sandbox in through the same settings
(`service/wechat/sandbox/keys.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

from service.settings import Settings, SettingsError
from service.wechat.pay.signing import certificate_keys, load_private_key, load_public_key

GATEWAY = "https://api.mch.weixin.qq.com"


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
    """Build the Pay configuration from settings; SettingsError names what is missing or wrong."""
    if not settings.wechat_pay_mchid:
        raise SettingsError(
            "WECHAT_PAY_MCHID and its keys are required (outside production, `python -m service run` passes the"
            " Pay sandbox's)"
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
        appid=settings.wechat_appid or settings.sandbox_appid,
        mchid=settings.wechat_pay_mchid,
        merchant_serial=settings.wechat_pay_merchant_serial,
        merchant_key=load_private_key(settings.wechat_pay_private_key),
        apiv3_key=apiv3_key,
        platform_keys=platform_keys,
        platform_serial=serial,
        api_base=(settings.wechat_pay_api_base or GATEWAY).rstrip("/"),
        notify_base_url=(settings.wechat_pay_notify_base_url or settings.public_base_url).rstrip("/"),
        transfer_scene_id=settings.wechat_pay_transfer_scene_id,
        max_age=settings.wechat_pay_max_age,
    )
