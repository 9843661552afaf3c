"""Answers shown as examples in the OpenAPI document, built from the real models so they cannot drift."""

from __future__ import annotations

from datetime import UTC, datetime

from service.warmup import models as m

TOPIC = m.WarmupTopic(
    id="12",
    text="周末大家都去哪儿跑步了？晒晒路线吧",
    position=1,
    used_count=3,
    created_at=datetime(2025, 3, 1, tzinfo=UTC),
)
SETTINGS = m.WarmupSettings(
    enabled=True,
    quiet_minutes=180,
    active_from="09:00",
    active_until="22:00",
    time_zone="Asia/Shanghai",
    topic_count=8,
    last_posted_at=datetime(2025, 3, 2, 6, 0, tzinfo=UTC),
    last_post_id="7100",
    next_topic=TOPIC,
)
TOPICS = m.WarmupTopicPage(items=[TOPIC], next_cursor=None)
