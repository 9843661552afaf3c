"""The problem codes of live updates, over the core's (service/errors.py)."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code("upgrade_required", 426, "GET /v1/live is a WebSocket: open it with wx.connectSocket (docs/live.md).", "fix"),
)
