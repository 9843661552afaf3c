"""WeChat open data: decrypting ``encryptedData`` and checking ``rawData`` signatures (wechatpy's crypto).

Both need the session_key of the member's latest login; a failure usually means the client called
wx.login again since, so the answer asks it to log in again.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from wechatpy.crypto import WeChatWxaCrypto
from wechatpy.exceptions import InvalidAppIdException

from service.errors import Problem
from service.wechat.errors import INVALID_OPEN_DATA, OPEN_DATA_SIGNATURE_MISMATCH


def decrypt_open_data(session_key: str, iv: str, encrypted_data: str, appid: str) -> dict[str, Any]:
    """The decrypted JSON; its ``watermark.appid`` must be ours (wechatpy checks it)."""
    try:
        data = WeChatWxaCrypto(session_key, iv, appid).decrypt_message(encrypted_data)
    except InvalidAppIdException:
        raise Problem(INVALID_OPEN_DATA, "the data was issued for another mini program") from None
    except (ValueError, KeyError, TypeError, IndexError):
        # Bad base64, wrong key or iv (garbage padding or JSON), or no watermark.
        raise Problem(INVALID_OPEN_DATA) from None
    if not isinstance(data, dict):
        raise Problem(INVALID_OPEN_DATA)
    return data


def check_raw_data_signature(session_key: str, raw_data: str, signature: str) -> None:
    """signature = sha1(rawData + session_key), compared in constant time (wechatpy compares with !=)."""
    expected = hashlib.sha1((raw_data + session_key).encode()).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise Problem(OPEN_DATA_SIGNATURE_MISMATCH)
