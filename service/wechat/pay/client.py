"""The WeChat Pay v3 client for the mini program (JSAPI): a small client over `cryptography` on the app's httpx
client. See the package's docstring for why not wechatpayv3, and for the two modes of verifying WeChat."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
from cryptography.exceptions import InvalidTag

from service.settings import Settings
from service.wechat.pay.config import PayConfig, pay_config
from service.wechat.pay.messages import (
    ErrorBody,
    Notification,
    NotificationEnvelope,
    PrepayAnswer,
    Refund,
    Transaction,
    TransferBill,
    format_time,
)
from service.wechat.pay.signing import (
    SignatureRejected,
    aes_gcm_decrypt,
    authorization_header,
    new_nonce,
    rsa_sign,
    verify_signed,
)

log = logging.getLogger("service.wechat.pay")

# Answers we may retry: WeChat's own trouble, rate limits and a merchant balance that may be topped up.
ANSWER_NOT_VERIFIED = "ANSWER_NOT_VERIFIED"  # an answer without WeChat's valid signature: never believed
RETRYABLE_CODES = frozenset({"SYSTEM_ERROR", "SYSTEMERROR", "FREQUENCY_LIMITED", "NOT_ENOUGH", "BANKERROR"})


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

    @property
    def refused(self) -> bool:
        """WeChat answered that it will not do what was asked: a 4xx it does not ask us to retry. Not said of
        WeChat out of reach, of its own trouble, nor of an answer that failed verification (ANSWER_NOT_VERIFIED,
        whatever it said)."""
        return 400 <= self.status < 500 and not self.retryable and self.code != ANSWER_NOT_VERIFIED


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
        # A 4xx is a refusal that fails a refund or a transfer for good: believed, like a success, only when WeChat
        # signed it. A 5xx, or no answer, is retried whatever it says.
        if response.status_code < 500:
            try:
                verify_signed(config.platform_keys, response.headers, response.content, max_age=config.max_age)
            except SignatureRejected as exc:
                log.error("WeChat Pay answer failed verification", extra={"path": path, "reason": exc.reason})
                raise PayError(response.status_code, ANSWER_NOT_VERIFIED, str(exc)) from None
        if response.status_code >= 300:
            try:
                error = msgspec.json.decode(response.content, type=ErrorBody)
            except msgspec.DecodeError:
                error = ErrorBody(code="HTTP_ERROR", message=response.text[:200])
            raise PayError(response.status_code, error.code, error.message)
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
        return msgspec.json.decode(body, type=PrepayAnswer).prepay_id

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
            envelope = msgspec.json.decode(body, type=NotificationEnvelope)
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
