"""WeChat open data a member's client received (wx.getShareInfo's group, run data, ...), opened with the session_key
of their latest login, for every domain.

Auth seals the session_key at login (service/wechat/sealing.py); this module is the only reader of it besides the
login: it opens the key, decrypts (service/wechat/crypto.py) and answers only the plaintext, so the key never
reaches a domain. Data encrypted under an older key (the client called wx.login since, or logged in again) does not
decrypt: `invalid_open_data`, whose action asks the client to log in again, as WeChat advises.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from service.errors import Problem
from service.wechat import crypto
from service.wechat.errors import INVALID_OPEN_DATA
from service.wechat.sealing import SessionKeySealer

SESSION = "SELECT appid, openid, session_key_sealed FROM users WHERE id = $1"


async def open_data(
    conn: asyncpg.Connection,
    sealer: SessionKeySealer,
    user_id: int,
    encrypted_data: str,
    iv: str,
    *,
    raw_data: str | None = None,
    signature: str | None = None,
) -> dict[str, Any]:
    """The decrypted JSON, its ``watermark.appid`` ours; with ``raw_data``, its signature is checked first."""
    row = await conn.fetchrow(SESSION, user_id)
    sealed = row["session_key_sealed"] if row is not None else None
    session_key = sealer.open(sealed, appid=row["appid"], openid=row["openid"]) if sealed else None
    if session_key is None:
        raise Problem(INVALID_OPEN_DATA, "no WeChat session on record: log in again")
    if raw_data is not None:
        crypto.check_raw_data_signature(session_key, raw_data, signature or "")
    return crypto.decrypt_open_data(session_key, iv, encrypted_data, row["appid"])
