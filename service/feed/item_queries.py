"""The SQL of one feed item's JSON: a post as a reader sees it (author, photos, link, counts, liked-by-me, pinned,
first comments, mentions) and a comment. Constant SQL text assembled at import time, used by page_queries.py."""

from __future__ import annotations

from service.core.blocks import unblocked
from service.core.json_text import array, literal, obj, quoted, string, timestamp
from service.core.media import IMAGES_JSON
from service.feed.models import FIRST_COMMENTS

# A post's uploaded photos, URLs as placeholders signed per answer (service/core/media.py).
_IMAGES = f"CASE WHEN p.image_ids = '{{}}' THEN '[]' ELSE ({IMAGES_JSON.format(ids='p.image_ids')})::text END"


def _author(user: str, robot: str, row: str) -> str:
    robot_author = obj(
        id="'null'",
        nickname=string(f"coalesce({robot}.nickname, {row}.robot)"),
        avatarUrl=string(f"coalesce({robot}.avatar_url, '')"),
    )
    member = obj(
        id=quoted(f"{row}.author_id"), nickname=string(f"{user}.nickname"), avatarUrl=string(f"{user}.avatar_url")
    )
    return f"CASE WHEN {row}.author_id IS NULL THEN {robot_author} ELSE {member} END"


def _image(row: str) -> str:
    """A comment's one photo, or null."""
    return f"""CASE WHEN {row}.image_id IS NULL THEN 'null'
            ELSE (({IMAGES_JSON.format(ids=f"ARRAY[{row}.image_id]")}) -> 0)::text END"""


def _mentions(row: str) -> str:
    """The members a post or comment mentions, in the author's order, for the client's @nickname."""
    mention = obj(userId=quoted("mu.id"), nickname=string("mu.nickname"))
    return f"""CASE WHEN {row}.mention_ids = '{{}}' THEN '[]' ELSE (
            SELECT {array(mention, f"array_position({row}.mention_ids, mu.id)")}
            FROM users mu WHERE mu.id = ANY({row}.mention_ids)) END"""  # noqa: S608


def comment_json(row: str, user: str, robot: str, **extra: str) -> str:
    return obj(
        id=quoted(f"{row}.id"),
        postId=quoted(f"{row}.post_id"),
        parentId=quoted(f"{row}.parent_id"),
        replyToId=quoted(f"{row}.reply_to_id"),
        author=_author(user, robot, row),
        robot=string(f"{row}.robot"),
        text=string(f"{row}.text"),
        image=_image(row),
        status=string(f"{row}.status"),
        replyCount=literal(f"{row}.reply_count"),
        createdAt=timestamp(f"{row}.created_at"),
        mentions=_mentions(row),
        **extra,
    )


def item_json(me: str, community: str) -> str:
    """One feed item of post `p` (authors `u`/`r` joined, first comments `fc` joined) as seen by user `me`.
    `likedByMe` comes first, so a cached item can be made a reader's own by its first bytes (cache.py).
    ``community``: the page's community, a parameter where the statement has one (see first_comments)."""
    link = obj(kind=string("p.link_kind"), id=quoted("p.link_id"))
    return obj(
        likedByMe=literal(
            f"EXISTS (SELECT FROM post_likes l WHERE l.community_id = {community} AND l.post_id = p.id "
            f"AND l.user_id = {me})"
        ),
        id=quoted("p.id"),
        communityId=quoted("p.community_id"),
        kind=string("p.kind"),
        author=_author("u", "r", "p"),
        robot=string("p.robot"),
        text=string("p.text"),
        images=_IMAGES,
        imageUrls=literal("to_json(p.image_urls)"),
        link=f"CASE WHEN p.link_kind IS NULL THEN 'null' ELSE {link} END",
        status=string("p.status"),
        likeCount=literal("p.like_count"),
        commentCount=literal("p.comment_count"),
        shareCount=literal("p.share_count"),
        viewCount=literal("p.view_count"),
        essence=literal("p.essence_at IS NOT NULL"),
        essenceAt=timestamp("p.essence_at"),
        createdAt=timestamp("p.created_at"),
        editedAt=timestamp("p.edited_at"),
        pinned=literal(f"EXISTS (SELECT FROM post_pins pp WHERE pp.community_id = {community} AND pp.post_id = p.id)"),
        firstComments="coalesce(fc.comments, '[]')",
        mentions=_mentions("p"),
    )


def first_comments(me: str, community: str) -> str:
    """The first visible comments of post `p` that reader ``me`` has not blocked the authors of. ``community``
    is the page's community parameter ($1) where the statement has one: Citus plans the page CTE (read several
    times) apart, so `p` is then an intermediate result and only a parameter routes comments to one shard; on one
    server it is the same condition, on the same index."""
    return f"""SELECT * FROM comments c
          WHERE c.community_id = {community} AND c.post_id = p.id AND c.parent_id IS NULL
            AND c.deleted_at IS NULL AND c.status = 'visible'
            AND {unblocked(me, "c.author_id")}
          ORDER BY c.created_at, c.id LIMIT {FIRST_COMMENTS}"""  # noqa: S608


def item_joins(me: str, community: str) -> str:
    """Authors and the first comments of each post `p` of a page."""
    return f"""
LEFT JOIN users u ON u.id = p.author_id
LEFT JOIN robots r ON r.name = p.robot
LEFT JOIN LATERAL (
    SELECT {array(comment_json("c", "cu", "cr"), "c.created_at, c.id")} AS comments
    FROM ({first_comments(me, community)}) c
    LEFT JOIN users cu ON cu.id = c.author_id
    LEFT JOIN robots cr ON cr.name = c.robot
) fc ON true
"""  # noqa: S608
