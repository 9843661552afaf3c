"""The Pay sandbox of one merchant: the ledger (ledger.py) behind WeChat's checks of the merchant's signed calls,
WeChat's signed answers, injected faults and the notifications it sends (notifications.py)."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import msgspec
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Request, Response

from service.settings import Settings
from service.wechat.pay import parse_authorization, request_message, rsa_verify, signed_headers
from service.wechat.sandbox.keys import SandboxKeys, load_dev_keys
from service.wechat.sandbox.pay.ledger import PayLedger, SandboxError
from service.wechat.sandbox.pay.notifications import Notifier, SentNotification

MAX_SKEW = 300
Operation = Literal["jsapi", "query", "close", "refund", "refund_query", "transfer", "transfer_query"]


@dataclass
class Fault:
    status: int
    code: str
    message: str
    remaining: int
    delay: float


class PaySandbox(PayLedger):
    """In-memory WeChat Pay for one merchant. `http` delivers notifications (created on demand)."""

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        merchant_keys: dict[str, rsa.RSAPublicKey],
        platform_key: rsa.RSAPrivateKey,
        public_key_id: str,
        apiv3_key: str,
        http: httpx.AsyncClient | None = None,
        auto_complete_refunds: bool = True,
    ) -> None:
        super().__init__(mchid=mchid, appid=appid)
        self.merchant_keys = merchant_keys
        self.platform_key = platform_key
        self.public_key_id = public_key_id
        self.apiv3_key = apiv3_key.encode()
        self.notifier = Notifier(
            platform_key=platform_key, public_key_id=public_key_id, apiv3_key=self.apiv3_key, http=http
        )
        self.auto_complete_refunds = auto_complete_refunds
        self.faults: dict[str, list[Fault]] = collections.defaultdict(list)
        self.calls: collections.Counter[str] = collections.Counter()
        # Held while a call changes the ledger (notifications are delivered outside it).
        self.lock = asyncio.Lock()

    @property
    def notifications(self) -> dict[str, SentNotification]:
        return self.notifier.sent

    @classmethod
    def from_keys(cls, keys: SandboxKeys, http: httpx.AsyncClient | None = None, **options: Any) -> PaySandbox:
        return cls(
            mchid=keys.mchid,
            appid=keys.appid,
            merchant_keys={keys.merchant_serial: keys.merchant_key.public_key()},
            platform_key=keys.platform_key,
            public_key_id=keys.public_key_id,
            apiv3_key=keys.apiv3_key,
            http=http,
            **options,
        )

    @classmethod
    def for_development(cls, settings: Settings, http: httpx.AsyncClient | None = None) -> PaySandbox:
        """The sandbox `python -m service sandbox` serves: the keys of .data/pay-sandbox, which `python -m service
        run` gives the app too when WECHAT_PAY_MCHID is unset, and the app's appid."""
        keys = load_dev_keys()
        if settings.wechat_appid:
            keys = dataclasses.replace(keys, appid=settings.wechat_appid)
        return cls.from_keys(keys, http)

    async def aclose(self) -> None:
        await self.notifier.aclose()

    # --- signed calls -----------------------------------------------------------------------------------------

    def answer(self, status: int, payload: Any = None) -> Response[bytes]:
        body = b"" if payload is None else msgspec.json.encode(payload)
        headers = signed_headers(self.platform_key, self.public_key_id, body)
        headers["Request-ID"] = secrets.token_hex(16)
        return Response(body, status_code=status, media_type="application/json", headers=headers)

    def error(self, exc: SandboxError) -> Response[bytes]:
        return self.answer(exc.status, {"code": exc.code, "message": exc.message})

    async def check_request(self, request: Request, operation: str) -> bytes:
        """Verify the merchant's signature like WeChat does; apply injected faults; return the raw body."""
        body = await request.body()
        self.calls[operation] += 1
        fields = parse_authorization(request.headers.get("authorization", ""))
        if fields is None or not {"mchid", "nonce_str", "signature", "timestamp", "serial_no"} <= fields.keys():
            raise SandboxError(401, "SIGN_ERROR", "Authorization 缺失或格式错误")
        if fields["mchid"] != self.mchid:
            raise SandboxError(401, "SIGN_ERROR", "商户号与签名不匹配")
        key = self.merchant_keys.get(fields["serial_no"])
        if key is None:
            raise SandboxError(401, "SIGN_ERROR", "商户证书序列号有误")
        if not fields["timestamp"].isdigit() or abs(time.time() - int(fields["timestamp"])) > MAX_SKEW:
            raise SandboxError(401, "SIGN_ERROR", "时间戳与当前时间相差过大")
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        url = raw_path.decode() + (f"?{request.url.query}" if request.url.query else "")
        message = request_message(request.method, url, fields["timestamp"], fields["nonce_str"], body)
        if not rsa_verify(key, message, fields["signature"]):
            raise SandboxError(401, "SIGN_ERROR", "签名错误")
        faults = self.faults.get(operation)
        if faults:
            fault = faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.pop(0)
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.code:
                raise SandboxError(fault.status, fault.code, fault.message)
        return body
