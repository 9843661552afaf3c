"""The WeChat groups a share reached: whoever opens the mini program from a share's card in a group chat gets a
`shareTicket`, and wx.getShareInfo gives them the group's openGId encrypted under their session_key.

- Any signed-in user may record an open, member or not: the opener usually is not one yet (they tapped the card in
  a group chat to look). The share must be one its public preview shows (a visible, undeleted post), else 404.
- The data opens only with the caller's latest session_key (service/core/open_data.py): forged data, data from an
  earlier login or for another mini program answer `invalid_open_data`, which tells the client to log in again.
- One row per share and group (the group as SHA-256 of appid and openGId, migration 0060); each open counts.
  Every attempt, forged ones too, counts against SHARE_GROUP_OPENS_PER_MINUTE of the caller first.
- Admins read the reach of their community's shares: distinct groups, opens, the shares that reached most.
"""

from __future__ import annotations

import hashlib
import re

import asyncpg

from service.core import ratelimit
from service.core.access import require_admin
from service.core.open_data import open_data
from service.core.rows import from_row
from service.errors import Problem
from service.feed import models as m
from service.feed import reach_queries as q
from service.settings import Settings
from service.wechat.sealing import SessionKeySealer

# WeChat's openGIds look like `tGxxxxxxxxxxxxxxxxxxxxxxxxxx`: bounded, printable, no spaces.
_OPEN_GID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def group_digest(appid: str, open_gid: str) -> bytes:
    return hashlib.sha256(f"{appid}\n{open_gid}".encode()).digest()


async def record_group_open(
    conn: asyncpg.Connection,
    sealer: SessionKeySealer,
    settings: Settings,
    code: str,
    user_id: int,
    data: m.GroupOpenCreate,
) -> m.GroupOpen:
    limits = {f"share-group-open:{user_id}": settings.share_group_opens_per_minute}
    await ratelimit.hit(conn, limits, 60, "too many share opens recorded")
    share = await conn.fetchrow(q.OPEN_SHARE, code)
    if share is None:
        raise Problem("not_found", "no such share, or its post is not visible")
    info = await open_data(conn, sealer, user_id, data.encrypted_data, data.iv)
    open_gid = info.get("openGId")
    if not isinstance(open_gid, str) or not _OPEN_GID.fullmatch(open_gid):
        raise Problem("not_group_share_info")
    digest = group_digest(info["watermark"]["appid"], open_gid)
    row = await conn.fetchrow(q.RECORD_OPEN, share["community_id"], share["id"], digest)
    opens = row["open_count"]
    return m.GroupOpen(share_code=code, first_open=opens == 1, opens=opens, first_opened_at=row["first_opened_at"])


async def share_reach(conn: asyncpg.Connection, community_id: int, user_id: int, limit: int) -> m.ShareReach:
    await require_admin(conn, community_id, user_id)
    totals = await conn.fetchrow(q.REACH, community_id)
    rows = await conn.fetch(q.REACH_BY_SHARE, community_id, limit)
    items = [from_row(m.ShareReachItem, row) for row in rows]
    return from_row(m.ShareReach, totals, community_id=str(community_id), items=items)
