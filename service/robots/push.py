"""WeChat's customer-service message push: signature checks, safe-mode decryption and parsing, via wechatpy.

WeChat calls our URL with `signature, timestamp, nonce` (sha1 of the sorted token, timestamp and nonce). In
safe mode (`encrypt_type=aes`) the body carries only `Encrypt` (AES-256-CBC under the EncodingAESKey) and
`msg_signature` signs it as well. Bodies are XML or, when the mini program is set to JSON, JSON; both are
accepted. A timestamp more than 5 minutes from now is refused like a bad signature (a replayed push).
The plain signature covers no body: a signed query is good for the first body it comes with (its `Seal`,
remembered by logic.receive_customer_message until the timestamp is stale), so whoever saw one push URL cannot
send another body under it; the same body again is WeChat's retry.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from service.core.hooks import MediaVerdict
from service.settings import Settings

MAX_SKEW = 300
# How long a seal is kept past its timestamp: while the query is fresh, plus a minute for the clocks of the
# API instances and the database to differ.
SEAL_KEEP = MAX_SKEW + 60


class ForgedPush(Exception):
    """The push is not from WeChat (bad or missing signature, stale timestamp, wrong appid)."""


@dataclass(frozen=True)
class Seal:
    """A signed query string and the body it came with."""

    signature: str
    timestamp: int
    body_sha256: bytes


@dataclass(frozen=True)
class InboundMessage:
    seal: Seal
    msg_key: str
    openid: str
    msg_type: str
    content: str
    # The `wxa_media_check` event: WeChat's verdict on an image (handled by the media domain, not stored here).
    media_verdict: MediaVerdict | None = None


def _keys(settings: Settings) -> tuple[str, str]:
    keys = settings.message_push_keys
    if keys is None:
        raise ForgedPush("message push is not configured")
    return keys


def verify(settings: Settings, query: Mapping[str, str], now: float | None = None) -> None:
    """The plain signature over (token, timestamp, nonce) and the timestamp's freshness."""
    token, _ = _keys(settings)
    signature, timestamp, nonce = query.get("signature"), query.get("timestamp"), query.get("nonce")
    if not (signature and timestamp and nonce):
        raise ForgedPush("signature, timestamp and nonce are required")
    try:
        check_signature(token, signature, timestamp, nonce)
    except InvalidSignatureException:
        raise ForgedPush("bad signature") from None
    try:
        skew = abs((now or time.time()) - int(timestamp))
    except ValueError:
        raise ForgedPush("bad timestamp") from None
    if skew > MAX_SKEW:
        raise ForgedPush("stale timestamp")


def _decode(body: bytes) -> dict[str, Any]:
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        decoded = msgspec.json.decode(text)
        if not isinstance(decoded, dict):
            raise ValueError("not an object")
        return decoded
    parsed = xmltodict.parse(text)
    xml = parsed.get("xml") if isinstance(parsed, dict) else None
    if not isinstance(xml, dict):
        raise ValueError("not a WeChat message")
    return xml


def open_message(settings: Settings, query: Mapping[str, str], body: bytes) -> InboundMessage | None:
    """Verify and read a pushed message; None when it is well signed but not something we answer.

    Raises ForgedPush for anything not signed by WeChat with our token (and key, in safe mode).
    """
    verify(settings, query)
    token, aes_key = _keys(settings)
    try:
        message = _decode(body)
    except Exception:  # any unreadable body is ignored (answered 'success', never retried)
        return None
    if query.get("encrypt_type") == "aes" or "Encrypt" in message:
        msg_signature = query.get("msg_signature")
        if not msg_signature or not isinstance(message.get("Encrypt"), str):
            raise ForgedPush("safe mode needs msg_signature and Encrypt")
        crypto = WeChatCrypto(token, aes_key, settings.wechat_credentials[0])
        try:
            plain = crypto.decrypt_message(
                {"Encrypt": message["Encrypt"]}, msg_signature, query["timestamp"], query["nonce"]
            )
        except (InvalidSignatureException, InvalidAppIdException):
            raise ForgedPush("bad msg_signature or appid") from None
        except Exception:  # a body that does not decrypt is as good as forged
            raise ForgedPush("the body does not decrypt") from None
        try:
            message = _decode(plain.encode() if isinstance(plain, str) else plain)
        except Exception:
            return None
    openid = message.get("FromUserName")
    msg_type = message.get("MsgType")
    if not isinstance(openid, str) or not isinstance(msg_type, str):
        return None
    msg_id = message.get("MsgId")
    key = str(msg_id) if msg_id not in (None, "") else f"{openid}:{message.get('CreateTime', '')}:{msg_type}"
    content = message.get("Content") if msg_type == "text" else ""
    return InboundMessage(
        seal=Seal(query["signature"], int(query["timestamp"]), hashlib.sha256(body).digest()),
        msg_key=key,
        openid=openid,
        msg_type=msg_type,
        content=str(content or "")[:2000],
        media_verdict=_media_verdict(message),
    )


def _media_verdict(message: dict[str, Any]) -> MediaVerdict | None:
    trace_id = message.get("trace_id")
    if message.get("Event") != "wxa_media_check" or not isinstance(trace_id, str) or not trace_id:
        return None
    result = message.get("result") if str(message.get("errcode", 0)) == "0" else None
    suggest = result.get("suggest") if isinstance(result, dict) else None
    label = result.get("label") if isinstance(result, dict) else None
    return MediaVerdict(
        trace_id=trace_id[:128],
        suggest=suggest if suggest in ("pass", "review", "risky") else "",
        label=int(label) if str(label).isdigit() else None,
    )
