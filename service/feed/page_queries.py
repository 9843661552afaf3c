"""The SQL that reads the feed: pages of posts and comments, built as JSON. $n parameters only.

Read paths build the JSON of a page in PostgreSQL (one statement: the caller's standing, the page, authors,
counts from the post rows, liked-by-me, first comments) and hand it back as bytes, untouched by Python. The JSON
is text joined in SQL (core/json_text.py), at half the cost of json_build_object; an item's is in
item_queries.py.
The fragments below are constant SQL text assembled at import time; no value is ever formatted into SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from service.core.access import standing_status
from service.core.blocks import unblocked
from service.core.json_text import array
from service.core.shown import member_shown
from service.feed.item_queries import comment_json, first_comments, item_joins, item_json
from service.feed.models import FEED_LIMIT_MAX, FIRST_COMMENTS

# What a member may see of a community's posts: the visible ones, and their own pending ones; never those of a
# member they blocked.
_SEEN_BY = (
    "p.deleted_at IS NULL AND (p.status = 'visible' OR (p.status = 'pending' AND p.author_id = {me})) AND "
    + unblocked("{me}", "p.author_id")
)


def _page(source: str, me: str, limit: str, community: str, *, shared: bool = False) -> str:
    """The page's JSON (bytes), how many rows were fetched (limit + 1 means there is more), and the sort key
    of the page's last item. ``source`` yields posts `p` numbered `n` in page order. A ``shared`` page (no
    reader: me is NULL) has the items apart, with their post ids, for the cache to finish per reader. Pinned
    posts come first with n <= 0 (_pinned) and do not count in the page's size."""
    if shared:
        items = f"""statement_timestamp() AS read_at,
       ARRAY(SELECT p.id FROM page p WHERE p.n <= {limit} ORDER BY p.n) AS post_ids,
       ARRAY(SELECT p.author_id FROM page p WHERE p.n <= {limit} ORDER BY p.n) AS author_ids,
       ARRAY(SELECT DISTINCT c.author_id FROM page p CROSS JOIN LATERAL ({first_comments(me, community)}) c
             WHERE p.n <= {limit} AND c.author_id IS NOT NULL) AS commenter_ids,
       ARRAY(SELECT convert_to({item_json(me, community)}, 'UTF8')
             FROM page p {item_joins(me, community)} WHERE p.n <= {limit} ORDER BY p.n) AS items"""  # noqa: S608
    else:
        items = f"""convert_to(
           (SELECT {array(item_json(me, community), "p.n")} FROM page p {item_joins(me, community)}
            WHERE p.n <= {limit}), 'UTF8') AS items"""  # noqa: S608
    return f"""
page AS (SELECT * FROM ({source}) p)
SELECT (SELECT count(*) FROM page WHERE n > 0) AS fetched,
       (SELECT created_at FROM page WHERE n = {limit}) AS last_created_at,
       (SELECT hot_rank FROM page WHERE n = {limit}) AS last_hot_rank,
       (SELECT essence_at FROM page WHERE n = {limit}) AS last_essence_at,
       (SELECT id FROM page WHERE n = {limit}) AS last_id,
       {items}"""  # noqa: S608


# The caller's standing as the access check reads it (core/access.py): the brand's team stands in the brand's
# communities, member or not.
_STANDING = f"""
standing AS (
    SELECT c.id, {standing_status()} AS status FROM communities c
    LEFT JOIN memberships m ON m.community_id = c.id AND m.user_id = $2
    LEFT JOIN brand_admins b ON b.brand_id = c.brand_id AND b.user_id = $2
    WHERE c.id = $1
)"""  # noqa: S608


# Pinned notices (pins.py): the feed's first page starts with them, in the order pinned, numbered
# -2, -1, 0 (so before the ranked posts, and apart from the page size); no page ranks them again.
PIN_LIMIT = 3
_NOT_PINNED = "AND NOT EXISTS (SELECT FROM post_pins pp WHERE pp.community_id = $1 AND pp.post_id = p.id)"


def _pinned(seen: str, first_page: str, extra: str = "") -> str:
    return f"""
        UNION ALL
        SELECT p.*, row_number() OVER (ORDER BY pp.id) - {PIN_LIMIT} AS n
        FROM post_pins pp JOIN posts p ON p.community_id = pp.community_id AND p.id = pp.post_id
        WHERE pp.community_id = $1 AND {first_page} AND {seen} {extra}"""  # noqa: S608


# The most rows a page statement fetches: the largest page (FEED_LIMIT_MAX) and one to tell whether there is more.
_MOST = FEED_LIMIT_MAX + 1


def _keyset(
    key: str, key_type: str, after: bool, cursor: str = "$3", cursor_id: str = "$4", newer: bool = False
) -> str:
    """The cursor's condition of a page's rows: the first page (``after`` False) or the pages after a cursor.

    Two statements rather than one (`cursor IS NULL OR (key) < cursor`, LIMIT limit + 1), so that PostgreSQL plans
    each once per connection: with a LIMIT it cannot read, a generic plan looks costlier and every execution is
    planned afresh, which for a page that builds 20 items of JSON costs as much as running it. Here the cursor is
    an index condition (or NULL, a one-time filter) and the LIMIT a constant (the largest page, _MOST), the page
    size applied to the rows numbered. ``newer``: the rows after the cursor are the greater ones (oldest first)."""
    if after:
        return f"({key}) {'>' if newer else '<'} ({cursor}::{key_type}, {cursor_id}::bigint)"
    return f"{cursor}::{key_type} IS NULL AND {cursor_id}::bigint IS NULL"


class Pages(NamedTuple):
    """A paged read as its two statements (see _keyset): the first page, and the pages after a cursor."""

    first: str
    after: str

    def at(self, cursor: tuple[Any, Any]) -> str:
        """The statement for a decoded cursor ((None, None): the first page)."""
        return self.first if cursor[0] is None else self.after


def _pages(build: Callable[..., str], *args: Any, **options: Any) -> Pages:
    return Pages(build(*args, **options, after=False), build(*args, **options, after=True))


def _numbered(order: str, posts: str, limit: str) -> str:
    """Rows (``posts``: a SELECT with LIMIT _MOST; ``order`` names them `p`) numbered `n` in page order; at most
    ``limit`` + 1 of them."""
    return f"""SELECT * FROM (SELECT p.*, row_number() OVER (ORDER BY {order}) AS n FROM ({posts}) p) p
        WHERE n <= {limit} + 1"""  # noqa: S608


def _community_page(order: str, key: str, key_type: str, extra: str = "", *, pins: bool = False, after: bool) -> str:
    """A page of one community's posts for a member. $1 community, $2 me, $3/$4 the cursor (NULL: first
    page), $5 limit. ``order`` is the ORDER BY, ``key`` the matching keyset row; ``pins``: pinned posts
    first (the feed); ``after``: see _keyset."""
    active = "AND EXISTS (SELECT FROM standing WHERE status = 'active')"
    cursor = _keyset(key, key_type, after)
    posts = f"""
            SELECT p.* FROM posts p
            WHERE p.community_id = $1 AND {_SEEN_BY.format(me="$2")} {extra} {_NOT_PINNED if pins else ""}
              {active}
              AND {cursor}
            ORDER BY {order}
            LIMIT {_MOST}
        """  # noqa: S608
    source = _numbered(order, posts, "$5")
    if pins:
        source += _pinned(_SEEN_BY.format(me="$2"), f"$3::{key_type} IS NULL", active)
    return f"""WITH {_STANDING},
{_page(source, "$2", "$5", "$1")},
       (SELECT status FROM standing) AS standing,
       EXISTS (SELECT FROM standing) AS found
"""  # noqa: S608


_LATEST = ("p.created_at DESC, p.id DESC", "p.created_at, p.id", "timestamptz")
_HOT = ("p.hot_rank DESC, p.id DESC", "p.hot_rank, p.id", "double precision")
# The feed's first page (its cursor NULL), and the pages after a cursor: each planned once per connection.
FEED_LATEST = _pages(_community_page, *_LATEST, pins=True)
FEED_HOT = _pages(_community_page, *_HOT, pins=True)


# The community's pins in order: a cached page read before a pin or an unpin is stale for everyone.
_PINS = "ARRAY(SELECT pp.post_id FROM post_pins pp WHERE pp.community_id = $1 ORDER BY pp.id)"

# Catching up (docs/live.md): $1 community, $2 me, $3 the newest post id the reader has, $4 limit; the posts
# after it oldest first, at most $4 (never a next page: the reader asks again from the last one).
_SINCE_SOURCE = f"""
        SELECT p.*, row_number() OVER (ORDER BY p.id) AS n FROM (
            SELECT p.* FROM posts p
            WHERE p.community_id = $1 AND {_SEEN_BY.format(me="$2")} AND p.id > $3
              AND EXISTS (SELECT FROM standing WHERE status = 'active')
            ORDER BY p.id LIMIT $4
        ) p"""  # noqa: S608
FEED_SINCE = f"""WITH {_STANDING},
{_page(_SINCE_SOURCE, "$2", "$4", "$1")},
       (SELECT status FROM standing) AS standing,
       EXISTS (SELECT FROM standing) AS found
"""  # noqa: S608


def _shared_page(order: str, key: str, key_type: str, *, after: bool) -> str:
    """A page of one community's visible posts as everyone sees them (no reader, no standing check), for the
    page cache, with the pinned posts first and the community's pins as read (`pins`: the cache compares them
    with the reader's, READER_OF_PAGE). $1 community, $2/$3 the cursor (NULL: first page), $4 limit;
    ``after``: see _keyset."""
    visible = "p.deleted_at IS NULL AND p.status = 'visible'"
    cursor = _keyset(key, key_type, after, "$2", "$3")
    posts = f"""
            SELECT p.* FROM posts p
            WHERE p.community_id = $1 AND {visible} {_NOT_PINNED}
              AND {cursor}
            ORDER BY {order}
            LIMIT {_MOST}
        """  # noqa: S608
    source = f"{_numbered(order, posts, '$4')} {_pinned(visible, f'$2::{key_type} IS NULL')}"
    return f"WITH {_page(source, 'NULL::bigint', '$4', '$1', shared=True)},\n       {_PINS} AS pins\n"


SHARED_LATEST = _pages(_shared_page, *_LATEST)
SHARED_HOT = _pages(_shared_page, *_HOT)

# What a cached page lacks for its reader, in one trip: $1 community, $2 reader, $3 the page's post ids,
# $4 when the page was read (less a slack for transactions in flight then), $5 the edit window in seconds,
# $6 the members who wrote on the page. The two lists come as array literals (text), made once per cached page:
# asyncpg would check and encode every element of a list for every reader.
# `own_news`: the reader has a pending post there (only they see it), or since the page was read wrote, edited or
# deleted a post or comment of the edit window ($5): they see their own writes at once, on a page of their own.
# Not which posts the comments are on: with the page's ids as a condition it was planned anew per read (0.4 ms).
# `blocked`: the page's writers the reader blocked (their posts are left out; their comments need a page of its own).
READER_OF_PAGE = f"""
SELECT c.id IS NOT NULL AS found, {standing_status()} AS standing, {_PINS} AS pins,
       ARRAY(SELECT l.post_id FROM post_likes l
             WHERE l.community_id = $1 AND l.user_id = $2 AND l.post_id = ANY($3::text::bigint[])) AS liked,
       ARRAY(SELECT b.blocked_id FROM member_blocks b
             WHERE b.blocker_id = $2 AND b.blocked_id = ANY($6::text::bigint[])) AS blocked,
       EXISTS (SELECT FROM posts p
               WHERE p.community_id = $1 AND p.author_id = $2 AND p.status = 'pending' AND p.deleted_at IS NULL)
       OR EXISTS (SELECT FROM posts p
                  WHERE p.community_id = $1 AND p.author_id = $2
                    AND p.created_at >= $4::timestamptz - make_interval(secs => $5)
                    AND greatest(p.created_at, p.updated_at, p.deleted_at) >= $4)
       OR EXISTS (SELECT FROM comments c
                  WHERE c.community_id = $1 AND c.author_id = $2
                    AND c.created_at >= $4::timestamptz - make_interval(secs => $5)
                    AND greatest(c.created_at, c.updated_at, c.deleted_at) >= $4)
       -- a post the reader deleted since, whoever wrote it and whenever (an admin's deletion too): posts_deleted_by
       OR EXISTS (SELECT FROM posts p
                  WHERE p.deleted_by = $2 AND p.deleted_at >= $4 AND p.deleted_at IS NOT NULL
                    AND p.community_id = $1) AS own_news
FROM (SELECT $1::bigint AS id) wanted
LEFT JOIN communities c ON c.id = wanted.id
LEFT JOIN memberships m ON m.community_id = wanted.id AND m.user_id = $2
LEFT JOIN brand_admins b ON b.brand_id = c.brand_id AND b.user_id = $2
"""  # noqa: S608
# Essence: visible posts marked by an admin, most recently marked first; cursor (essence_at, id).
ESSENCE = _pages(
    _community_page, "p.essence_at DESC, p.id DESC", "p.essence_at, p.id", "timestamptz", "AND p.essence_at IS NOT NULL"
)

# A member's posts in the community, newest first ($6 the member; profiles).
MEMBER_POSTS = _pages(
    _community_page, "p.created_at DESC, p.id DESC", "p.created_at, p.id", "timestamptz", "AND p.author_id = $6"
)

# The member whose posts are asked for ($2) stands in community $1 (the brand's team too, member or not: core/access.py)
# and is shown to the reader ($3).
MEMBER_SHOWN = f"""
SELECT EXISTS (SELECT FROM communities c
               LEFT JOIN memberships m ON m.community_id = c.id AND m.user_id = $2
               LEFT JOIN brand_admins b ON b.brand_id = c.brand_id AND b.user_id = $2
               WHERE c.id = $1 AND {standing_status()} = 'active' AND {member_shown("$2", "$3")})
"""  # noqa: S608


# My feed: the latest posts of the communities I am an active member of, follow and have not muted.
# $1 me, $2/$3 cursor (created_at, id), $4 limit.
def _my_feed(after: bool) -> str:
    posts = f"""
            SELECT p.* FROM memberships m CROSS JOIN LATERAL (
                SELECT p.* FROM posts p
                WHERE p.community_id = m.community_id AND {_SEEN_BY.format(me="$1")}
                  AND {_keyset("p.created_at, p.id", "timestamptz", after, "$2", "$3")}
                ORDER BY p.created_at DESC, p.id DESC
                LIMIT {_MOST}
            ) p
            WHERE m.user_id = $1 AND m.status = 'active' AND NOT m.unfollowed AND NOT m.notifications_muted
            ORDER BY p.created_at DESC, p.id DESC
            LIMIT {_MOST}"""  # noqa: S608
    return f"WITH {_page(_numbered('p.created_at DESC, p.id DESC', posts, '$4'), '$1', '$4', 'p.community_id')}\n"


MY_FEED = _pages(_my_feed)

# One post as `me` sees it: $1 post, $2 me. The row tells the logic whether `me` may see it.
POST_ITEM = f"""
WITH page AS (SELECT p.*, 1 AS n FROM posts p WHERE p.id = $1)
SELECT p.community_id, p.author_id, p.status, p.deleted_at IS NOT NULL AS deleted,
       {standing_status("m", "pb")} AS standing, convert_to({item_json("$2", "p.community_id")}, 'UTF8') AS item
FROM page p
LEFT JOIN memberships m ON m.community_id = p.community_id AND m.user_id = $2
LEFT JOIN communities pc ON pc.id = p.community_id
LEFT JOIN brand_admins pb ON pb.brand_id = pc.brand_id AND pb.user_id = $2
{item_joins("$2", "p.community_id")}
"""  # noqa: S608

# --- comments ------------------------------------------------------------------------------------------

_COMMENT_SEEN = (
    "c.deleted_at IS NULL AND (c.status = 'visible' OR (c.status = 'pending' AND c.author_id = $2)) AND "
    + unblocked("$2", "c.author_id")
)


def _comment_page(where: str, with_replies: bool, after: bool) -> str:
    """A page of comments `t`, oldest first. $1 post or thread, $2 me, $3/$4 cursor, $5 limit, $6 the post's
    community (every read names it: Citus routes the page, replies included, to that community's shard);
    ``after``: see _keyset."""
    replies = "'[]'"
    joins = ""
    if with_replies:
        replies = "coalesce(replies.items, '[]')"
        joins = f"""
           LEFT JOIN LATERAL (
               SELECT {array(comment_json("c", "ru", "rr"), "c.created_at, c.id")} AS items
               FROM (SELECT * FROM comments c WHERE c.community_id = $6 AND c.parent_id = t.id AND {_COMMENT_SEEN}
                     ORDER BY c.created_at, c.id LIMIT {FIRST_COMMENTS}) c
               LEFT JOIN users ru ON ru.id = c.author_id
               LEFT JOIN robots rr ON rr.name = c.robot
           ) replies ON true"""  # noqa: S608
    comments = f"""
            SELECT c.* FROM comments c
            WHERE c.community_id = $6 AND {where} AND {_COMMENT_SEEN}
              AND {_keyset("c.created_at, c.id", "timestamptz", after, newer=True)}
            ORDER BY c.created_at, c.id
            LIMIT {_MOST}"""  # noqa: S608
    return f"""
WITH page AS ({_numbered("p.created_at, p.id", comments, "$5")})
SELECT (SELECT count(*) FROM page) AS fetched,
       (SELECT created_at FROM page WHERE n = $5) AS last_created_at,
       (SELECT id FROM page WHERE n = $5) AS last_id,
       convert_to((
           SELECT {array(comment_json("t", "u", "r", replies=replies), "t.n")}
           FROM page t
           LEFT JOIN users u ON u.id = t.author_id
           LEFT JOIN robots r ON r.name = t.robot {joins}
           WHERE t.n <= $5), 'UTF8') AS items
"""  # noqa: S608


# Threads of a post, each with its first replies; and the replies of one thread.
COMMENT_THREADS = _pages(_comment_page, "c.post_id = $1 AND c.parent_id IS NULL", with_replies=True)
COMMENT_REPLIES = _pages(_comment_page, "c.parent_id = $1", with_replies=False)

COMMENT_ITEM = f"""
SELECT convert_to({comment_json("c", "u", "r")}, 'UTF8') AS item
FROM comments c LEFT JOIN users u ON u.id = c.author_id LEFT JOIN robots r ON r.name = c.robot
WHERE c.id = $1
"""  # noqa: S608
