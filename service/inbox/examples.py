"""Answers shown as examples in the OpenAPI document, built from the real models so they cannot drift."""

from __future__ import annotations

from datetime import UTC, datetime

from service.inbox import models as m

_AT = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)

PAGE = m.NotificationPage(
    items=[
        m.Notification(
            id="5002",
            kind="likes",
            community_id="42",
            subject_type="post",
            subject_id="301",
            actor=m.Actor(id="1003", nickname="小雨", avatar_url="https://cdn.example.com/a.jpg"),
            count=5,
            data={},
            read=False,
            created_at=_AT,
        ),
        m.Notification(
            id="5001",
            kind="reply",
            community_id="42",
            subject_type="comment",
            subject_id="880",
            actor=m.Actor(id="1002", nickname="小王", avatar_url="https://cdn.example.com/b.jpg"),
            count=1,
            data={"postId": "301"},
            read=True,
            created_at=_AT,
        ),
    ],
    unread_count=1,
    next_cursor=None,
)
UNREAD = m.Unread(unread_count=3)
