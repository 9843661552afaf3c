"""A short-lived cache of community feed pages as everyone sees them, in each API process.

A feed page is the costliest read of the API (20 posts with authors, counters and first comments: about a
millisecond of PostgreSQL, against a tenth for a primary-key read), and the members of a busy community read
the same first page over and over. So each process keeps a page's shared part for `FEED_CACHE_SECONDS` and
finishes it for every reader with one small query: their standing (checked on every request, so a removed
member loses access at once), which of the page's posts they liked, and whether they have news of their own
there (a pending post only they see, or a post written, edited or deleted since the page was read): such a
reader gets a page built for them alone. Members the reader blocked: their posts are left out of the shared
page for that reader (the page may then hold fewer items; its cursor is the shared one); a page showing one of
their comments is built for the reader alone. What others do shows within the TTL; what readers do shows at once.
Readers waiting for the same page share one query.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from service.core.media import PLACEHOLDER

# Every item starts with its reader's like (item_queries.item_json): the shared page says false.
LIKED_FALSE = b'{"likedByMe":false'
LIKED_TRUE = b'{"likedByMe":true'


@dataclass(frozen=True)
class SharedPage:
    read_at: datetime  # the database's time when the page was read
    post_ids: list[int]
    author_ids: list[int | None]  # per item; None for a robot
    commenter_ids: list[int]  # whoever wrote one of the items' first comments
    items: list[bytes]
    pins: list[int]  # the community's pinned posts when the page was read
    tail: bytes  # what follows the items in the answer: `,"nextCursor":...}` (reading._tail)

    @cached_property
    def writers(self) -> list[int]:
        return list({*(a for a in self.author_ids if a is not None), *self.commenter_ids})

    @cached_property
    def post_ids_text(self) -> str:
        """The post ids as an array literal: PostgreSQL reads it for each reader, asyncpg does not re-encode it."""
        return _array_literal(self.post_ids)

    @cached_property
    def writers_text(self) -> str:
        return _array_literal(self.writers)

    @cached_property
    def has_images(self) -> bool:
        """Whether the page shows a photo (whose URL each answer signs): looked for once, not in every answer."""
        return any(PLACEHOLDER in item for item in self.items)

    @cached_property
    def _index(self) -> dict[int, int]:
        return {post_id: index for index, post_id in enumerate(self.post_ids)}

    @cached_property
    def _plain(self) -> bytes:
        """The answer of a reader who liked none of the items and blocked none of their authors."""
        return b'{"items":[' + b",".join(self.items) + b"]" + self.tail

    def answer(self, liked: set[int], blocked: set[int]) -> bytes:
        """The page as a JSON answer, with the reader's likes, without the posts of members they blocked: built
        once for every reader who liked and blocked none of it, per reader otherwise."""
        if not liked and not blocked:
            return self._plain
        return b'{"items":' + self.items_for(liked, blocked) + self.tail

    def items_for(self, liked: set[int], blocked: set[int]) -> bytes:
        """The items as a JSON array, with the reader's likes, without the posts of members they blocked."""
        items = list(self.items)
        for post_id in liked:
            if (index := self._index.get(post_id)) is not None:
                items[index] = LIKED_TRUE + items[index][len(LIKED_FALSE) :]
        if blocked:
            items = [item for item, author in zip(items, self.author_ids, strict=True) if author not in blocked]
        return b"[" + b",".join(items) + b"]"


def _array_literal(ids: list[int]) -> str:
    return "{" + ",".join(map(str, ids)) + "}"


class PageCache:
    """Shared pages by key, each kept `ttl` seconds; at most `size` of them (least recently used go first)."""

    def __init__(self, ttl: float, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._pages: OrderedDict[Any, tuple[float, SharedPage]] = OrderedDict()
        self._loading: dict[Any, asyncio.Future[SharedPage]] = {}

    def forget(self, key: Any, page: SharedPage) -> None:
        """Drop a page found stale (unless a newer one replaced it already)."""
        cached = self._pages.get(key)
        if cached is not None and cached[1] is page:
            del self._pages[key]

    async def page(self, key: Any, load: Callable[[], Awaitable[SharedPage]]) -> SharedPage:
        now = time.monotonic()
        cached = self._pages.get(key)
        if cached is not None and cached[0] > now:
            self._pages.move_to_end(key)
            return cached[1]
        if (loading := self._loading.get(key)) is not None:
            try:
                return await asyncio.shield(loading)
            except asyncio.CancelledError:
                if not loading.cancelled():
                    raise  # this reader was cancelled
                return await self.page(key, load)  # the reader loading it went away: load it ourselves
        loading = self._loading[key] = asyncio.get_running_loop().create_future()
        try:
            page = await load()
        except asyncio.CancelledError:
            loading.cancel()
            raise
        except Exception as exc:
            loading.set_exception(exc)
            loading.exception()  # retrieved: a failed load nobody else waited for must not warn
            raise
        finally:
            del self._loading[key]
        loading.set_result(page)
        self._pages[key] = (time.monotonic() + self.ttl, page)
        self._pages.move_to_end(key)
        while len(self._pages) > self.size:
            self._pages.popitem(last=False)
        return page
