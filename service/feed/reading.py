"""Reading the feed: a community's pages (latest, hot, essence), my feed, one post, a post's comments.

Only active members read a community's posts. Pages are built by one SQL statement that also checks the
caller's standing, and go out as the bytes PostgreSQL produced (page_queries.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from litestar import Response
from litestar.datastructures import State

from service.core.media import sign_answer, sign_urls
from service.core.paging import decode_cursor, encode_cursor, since_id
from service.core.storage import Storage
from service.db.replica import ReadRouter
from service.errors import FieldError, Problem
from service.feed import models as m
from service.feed import page_queries as pages
from service.feed import queries as q
from service.feed.cache import PageCache, SharedPage
from service.settings import Settings


def json_response(body: bytes, status: int = 200) -> Response[bytes]:
    return Response(content=body, status_code=status, media_type="application/json")


def _tail(row: Any, limit: int, cursor_of) -> bytes:
    """What follows a page's items: its next cursor (null on the last page), and the end of the answer."""
    next_cursor = encode_cursor(*cursor_of(row)) if row["fetched"] > limit else None
    return b',"nextCursor":' + msgspec.json.encode(next_cursor) + b"}"


def _page(row: Any, limit: int, cursor_of) -> Response[bytes]:
    return json_response(b'{"items":' + row["items"] + _tail(row, limit, cursor_of))


def _cursor(cursor: str | None, tag: str, key_type: type) -> tuple[Any, Any]:
    """A page's cursor is tagged with its order, so one order's cursor is never read as another's."""
    after = decode_cursor(cursor, str, key_type, int)
    if after is None:
        return None, None
    if after[0] != tag:
        raise Problem(
            "validation_failed",
            "invalid cursor",
            errors=[FieldError(field="cursor", message="a cursor of another list or order", source="query")],
        )
    return after[1], after[2]


def _require_standing(row: Any) -> None:
    if not row["found"]:
        raise Problem("not_found", "no such community")
    if row["standing"] != "active":
        raise Problem("not_member")


# Per order: the reader's page and the shared page (cache.py), each as (first page, pages after a cursor), the
# cursor's type and the last item's sort key.
_ORDERS = {
    "latest": (
        pages.FEED_LATEST,
        pages.SHARED_LATEST,
        datetime,
        lambda r: ("latest", r["last_created_at"], r["last_id"]),
    ),
    "hot": (
        pages.FEED_HOT,
        pages.SHARED_HOT,
        float,
        lambda r: ("hot", r["last_hot_rank"], r["last_id"]),
    ),
}
# A write whose transaction began before a shared page was read may commit after it: its author's next
# reads bypass the cache this long.
IN_FLIGHT_SLACK = timedelta(seconds=10)


async def community_feed(
    reads: ReadRouter,
    cache: PageCache | None,
    storage: Storage,
    settings: Settings,
    community_id: int,
    user_id: int,
    order: m.FeedOrder,
    limit: int,
    cursor: str | None,
    since: str | None = None,
) -> Response[bytes]:
    """The page as everyone sees it (from the cache, else from the replica when usable, else from the primary),
    finished for its reader on the primary: their standing, likes and blocks, and whether they wrote since the
    page was read (then the page is built for them alone, on the primary: they see their own writes at once).
    Its photos' URLs signed."""
    pool = reads.primary
    own_queries, shared_queries, key_type, cursor_of = _ORDERS[order]
    if (newer_than := since_id(since, cursor)) is not None:  # catching up: the reader's own, never cached
        row = await pool.fetchrow(pages.FEED_SINCE, community_id, user_id, newer_than, limit)
        _require_standing(row)
        return await sign_answer(storage, _page(row, limit, cursor_of))
    after = _cursor(cursor, order, key_type)
    own_query, shared_query = own_queries.at(after), shared_queries.at(after)
    if cache is not None or reads.usable():

        async def shared_page(conn: asyncpg.Connection, as_of: datetime | None) -> SharedPage:
            row = await conn.fetchrow(shared_query, community_id, *after, limit)
            return SharedPage(
                # From the replica: the time since which it holds every write, not its clock's.
                read_at=row["read_at"] if as_of is None else min(as_of, row["read_at"]),
                post_ids=row["post_ids"],
                author_ids=row["author_ids"],
                commenter_ids=row["commenter_ids"],
                items=row["items"],
                pins=row["pins"],
                tail=_tail(row, limit, cursor_of),
            )

        async def load() -> SharedPage:
            return await reads.read(shared_page)

        key = (community_id, order, *after, limit)
        shared = await (load() if cache is None else cache.page(key, load))
        reader = await pool.fetchrow(
            pages.READER_OF_PAGE,
            community_id,
            user_id,
            shared.post_ids_text,
            shared.read_at - IN_FLIGHT_SLACK,
            float(settings.post_edit_window),
            shared.writers_text,
        )
        _require_standing(reader)
        blocked = set(reader["blocked"])
        if reader["pins"] != shared.pins:
            if cache is not None:
                cache.forget(key, shared)  # pinned or unpinned since, maybe through another process
        elif not reader["own_news"] and blocked.isdisjoint(shared.commenter_ids):
            answer = shared.answer(set(reader["liked"]), blocked)
            # Looking for photos to sign costs 0.3 µs a KB: a shared page looked once.
            return json_response(await sign_urls(storage, answer) if shared.has_images else answer)
    row = await pool.fetchrow(own_query, community_id, user_id, *after, limit)
    _require_standing(row)
    return await sign_answer(storage, _page(row, limit, cursor_of))


async def feed_of(
    state: State,
    community_id: int,
    user_id: int,
    order: m.FeedOrder,
    limit: int,
    cursor: str | None,
    since: str | None,
) -> Response[bytes]:
    """community_feed with what the app holds: the route and its lane (lane.py) answer alike."""
    return await community_feed(
        state.reads, state.feed_cache, state.storage, state.settings, community_id, user_id, order, limit, cursor, since
    )


async def essence(
    pool: asyncpg.Pool, community_id: int, user_id: int, limit: int, cursor: str | None
) -> Response[bytes]:
    after = _cursor(cursor, "essence", datetime)
    row = await pool.fetchrow(pages.ESSENCE.at(after), community_id, user_id, *after, limit)
    _require_standing(row)
    return _page(row, limit, lambda r: ("essence", r["last_essence_at"], r["last_id"]))


async def member_posts(
    pool: asyncpg.Pool, community_id: int, user_id: int, member_id: int, limit: int, cursor: str | None
) -> Response[bytes]:
    """A member's posts in the community as the reader sees them (a profile); not_found for no such member."""
    after = _cursor(cursor, "member", datetime)
    row = await pool.fetchrow(pages.MEMBER_POSTS.at(after), community_id, user_id, *after, limit, member_id)
    _require_standing(row)
    if not await pool.fetchval(pages.MEMBER_SHOWN, community_id, member_id, user_id):
        raise Problem("not_found", "no such member")
    return _page(row, limit, lambda r: ("member", r["last_created_at"], r["last_id"]))


async def my_feed(pool: asyncpg.Pool, user_id: int, limit: int, cursor: str | None) -> Response[bytes]:
    after = _cursor(cursor, "mine", datetime)
    row = await pool.fetchrow(pages.MY_FEED.at(after), user_id, *after, limit)
    return _page(row, limit, lambda r: ("mine", r["last_created_at"], r["last_id"]))


async def _seen_post(conn: asyncpg.Connection | asyncpg.Pool, post_id: int, user_id: int) -> asyncpg.Record:
    """The post's row as ``user_id`` sees it (its community, its item); not_found unless they may see it."""
    row = await conn.fetchrow(pages.POST_ITEM, post_id, user_id)
    if row is None or row["deleted"]:
        raise Problem("not_found", "no such post")
    if row["standing"] != "active":
        raise Problem("not_member")
    if row["status"] != "visible" and row["author_id"] != user_id:
        raise Problem("not_found", "no such post")
    return row


async def post_item(conn: asyncpg.Connection | asyncpg.Pool, post_id: int, user_id: int) -> bytes:
    """The post as ``user_id`` sees it; not_found unless they may see it."""
    return (await _seen_post(conn, post_id, user_id))["item"]


async def get_post(pool: asyncpg.Pool, post_id: int, user_id: int) -> Response[bytes]:
    return json_response(await post_item(pool, post_id, user_id))


async def list_comments(
    pool: asyncpg.Pool, post_id: int, user_id: int, parent_id: int | None, limit: int, cursor: str | None
) -> Response[bytes]:
    """Threads of a post (each with its first replies), or with ``parent_id`` the replies of one thread."""
    async with pool.acquire() as conn:
        community_id = (await _seen_post(conn, post_id, user_id))["community_id"]  # the caller may see the post
        if parent_id is None:
            after = _cursor(cursor, "threads", datetime)
            row = await conn.fetchrow(pages.COMMENT_THREADS.at(after), post_id, user_id, *after, limit, community_id)
            return _page(row, limit, lambda r: ("threads", r["last_created_at"], r["last_id"]))
        thread = await conn.fetchrow(q.COMMENT, parent_id)
        if thread is None or thread["post_id"] != post_id or thread["parent_id"] is not None:
            raise Problem("not_found", "no such thread on this post")
        # A thread gone from the list (deleted, refused, pending for its author only) takes its replies with it.
        if thread["deleted_at"] is not None or (thread["status"] != "visible" and thread["author_id"] != user_id):
            raise Problem("not_found", "no such thread on this post")
        after = _cursor(cursor, "replies", datetime)
        row = await conn.fetchrow(pages.COMMENT_REPLIES.at(after), parent_id, user_id, *after, limit, community_id)
        return _page(row, limit, lambda r: ("replies", r["last_created_at"], r["last_id"]))
