"""The app-wide dependencies handlers take by name: create_app provides them (`user` and `caller`, the
signed-in user, are service/auth/guard.py's ``CurrentUser``).

Marked explicitly rather than inferred from the name: Litestar 3 drops inference, and a marked parameter
can never turn into a query parameter when its provider is missing.
"""

from __future__ import annotations

import asyncpg
from litestar.di import NamedDependency

from service.core.storage import Storage
from service.db.replica import ReadRouter
from service.settings import Settings
from service.wechat.client import WeChatClient
from service.wechat.pay import WeChatPay

# A pooled connection held for the request, outside any transaction: logic.py opens the ones it needs.
Db = NamedDependency[asyncpg.Connection]
AppSettings = NamedDependency[Settings]
WeChat = NamedDependency[WeChatClient]
Pay = NamedDependency[WeChatPay]
Store = NamedDependency[Storage]
# The replica when it is usable, else the primary, for reads that tolerate REPLICA_MAX_LAG seconds of staleness
# (service/db/replica.py): `await reads.read(fn)` runs `fn(connection, as_of)`. Checks of the caller's standing
# and anything read after a write stay on the primary (`db`, or `reads.primary`).
Reads = NamedDependency[ReadRouter]
