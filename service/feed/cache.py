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
from typing import Any

# Every item starts with its reader's like (queries._item_json): the shared page says false.
LIKED_FALSE = b'{"likedByMe" : false'
LIKED_TRUE = b'{"likedByMe" : true'


@dataclass(frozen=True)
class SharedPage:
    read_at: datetime  # the database's time when the page was read
    post_ids: list[int]
    author_ids: list[int | None]  # per item; None for a robot
    commenter_ids: list[int]  # whoever wrote one of the items' first comments
    items: list[bytes]
    row: Any  # fetched and the sort keys of the last item, for the cursor
    pins: list[int]  # the community's pinned posts when the page was read

    @property
    def writers(self) -> list[int]:
        return list({*(a for a in self.author_ids if a is not None), *self.commenter_ids})

    def items_for(self, liked: set[int], blocked: set[int]) -> bytes:
        """The items as a JSON array, with the reader's likes, without the posts of members they blocked."""
        shown = (i for i in range(len(self.items)) if self.author_ids[i] not in blocked)
        return b"[" + b",".join(self._item(i, liked) for i in shown) + b"]"

    def _item(self, index: int, liked: set[int]) -> bytes:
        item = self.items[index]
        return LIKED_TRUE + item[len(LIKED_FALSE) :] if self.post_ids[index] in liked else item


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
