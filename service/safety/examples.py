"""Answers shown as examples in the OpenAPI document, built from the real models so they cannot drift."""

from __future__ import annotations

from datetime import UTC, datetime

from service.safety import models as m

BLOCK = m.Block(
    user_id="1002",
    nickname="小王",
    avatar_url="https://cdn.example.com/b.jpg",
    blocked_at=datetime(2025, 3, 1, 8, 30, tzinfo=UTC),
)
PAGE = m.BlockPage(items=[BLOCK], next_cursor=None)
