"""A community's texts that others read pass WeChat's content check before they are stored (docs/feed.md)."""

from __future__ import annotations

from typing import Any

import asyncpg

from service.communities import models as m
from service.core.content import require_passed
from service.wechat.client import WeChatClient

# What others read (discover shows name, description and tags to every signed-in user; the welcome robot posts
# the greeting, the prompt greets every newcomer): WeChat's content check must pass it before it is stored.
TEXTS = ("name", "description", "tags", "welcome_template", "introduction_prompt")
DEFAULT_TEXTS = {"welcome_template": m.DEFAULT_WELCOME, "introduction_prompt": m.DEFAULT_INTRODUCTION_PROMPT}


async def check_texts(
    pool: asyncpg.Pool,
    wechat: WeChatClient,
    user_id: int,
    values: dict[str, Any],
    before: asyncpg.Record | dict[str, Any],
) -> None:
    """One msg_sec_check for the texts of ``values`` that ``before`` (the stored settings, or our defaults at
    creation) does not already hold; call it holding no connection."""
    texts: list[str] = []
    for name in TEXTS:
        old = before.get(name)
        if name == "tags":
            texts += [tag for tag in values["tags"] if tag not in (old or [])]
        elif values[name] != old:
            texts.append(values[name])
    text = "\n".join(t for t in texts if t.strip())
    await require_passed(pool, wechat, user_id, text, "name, description, tags, greeting or introduction prompt")
