"""Photos in what members write: what any domain needs to take `imageIds` and to show them.

- `claim_images`: the ids must be the writer's own uploads and not refused by WeChat; they become attached (an
  attached upload is never deleted as unused). Answers the images' state: `approved` when WeChat passed every
  one, else `pending` (the writing stays hidden from others until `MediaDecided` says otherwise).
- `IMAGES_JSON`: the SQL that renders a row's images as JSON, with placeholders where the URLs go;
  `sign_urls` replaces them with signed, expiring URLs in the bytes of an answer (pages are built by
  PostgreSQL; URLs are signed per request, never stored).
- `EarlierImageUrls`, `AvatarLink`, `CoverLink`: what answers say of the URL fields they keep showing;
  `IMAGE_URLS_REMOVED`, `url_removed`: what a request that still sends a removed URL input is told.
- `release_images`: what is deleted with the writing: its uploads that no other live item shows (a shared
  feedback's post shows the feedback's photos; a member may post the same upload twice), then, by a job, the
  stored files no upload refers to any more. `hold_images` locks them first, so a writer claiming one meanwhile
  keeps it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

import asyncpg
import msgspec
from litestar import Response
from msgspec import Meta

from service.core.rows import invalid
from service.core.storage import Storage
from service.errors import Problem
from service.jobs import enqueue

IMAGES_MAX = 9
MediaId = Annotated[str, Meta(pattern=r"^[1-9][0-9]{0,15}$(?!\n)", examples=["8812"], description="A media id")]
ImageIds = Annotated[
    list[MediaId],
    Meta(
        max_length=IMAGES_MAX,
        description=(
            f"Up to {IMAGES_MAX} of your uploads (POST /v1/media), in order. Shown to others once WeChat's image "
            "check passed every one; one refused image refuses what carries it."
        ),
    ),
]

# What answers still show of the URLs given before photos were uploaded (the rows keep them: our server does not
# fetch other hosts, and they were published before images were checked).
EarlierImageUrls = Annotated[
    list[str],
    Meta(examples=[[]], description="URLs stored before photos were uploaded (see `images`); read-only"),
]
PUBLIC_LINK_EXAMPLE = "https://api.example.com/v1/media/public/8812"
AvatarLink = Annotated[
    str,
    Meta(
        examples=[PUBLIC_LINK_EXAMPLE],
        description="The public link of the avatar uploaded (`avatarMediaId`, PUT /v1/me: it shows the photo once "
        "WeChat approved it), a URL set before avatars were uploaded, or empty",
    ),
]
CoverLink = Annotated[
    str,
    Meta(
        examples=[PUBLIC_LINK_EXAMPLE],
        description="The public link of the cover uploaded (`coverMediaId`: it shows the photo once WeChat approved "
        "it), a URL set before covers were uploaded, or empty",
    ),
]

# The inputs that took an https URL from any host were removed once photos were uploaded: a client that still
# sends one is refused like any unknown field (400 `validation_failed`, reason `unknown_field`) and told what
# replaced it (`removed_fields` of a request model, read by service/validation.py).
IMAGE_URLS_REMOVED = {
    "imageUrls": "is no longer taken: upload the photos (POST /v1/media) and send their ids in `imageIds`"
}


def url_removed(field: str, purpose: str, replacement: str) -> dict[str, str]:
    """`removed_fields` of a model whose one-photo URL input (avatarUrl, coverUrl) gave way to an upload's id."""
    return {
        field: f"is no longer taken: upload the photo (POST /v1/media, purpose `{purpose}`) and send its id in "
        f"`{replacement}`"
    }


class Image(msgspec.Struct, rename="camel", kw_only=True):
    """An uploaded photo as answers show it: URLs signed for this answer (they expire in an hour)."""

    id: MediaId
    url: Annotated[str, Meta(examples=["https://api.example.com/v1/media/files/4e0b…b66a.jpg?expires=…"])]
    thumbnail_url: Annotated[str, Meta(examples=["https://api.example.com/v1/media/files/4e0b…b66a-thumb.jpg?…"])]
    width: Annotated[int, Meta(examples=[1200])]
    height: Annotated[int, Meta(examples=[1600])]


# What the OpenAPI examples show for an image.
EXAMPLE_IMAGE = Image(
    id="8812",
    url="https://api.example.com/v1/media/files/4e0b…b66a.jpg?expires=…",
    thumbnail_url="https://api.example.com/v1/media/files/4e0b…b66a-thumb.jpg?expires=…",
    width=1200,
    height=1600,
)
PLACEHOLDER = b'"mediakey:'
# A placeholder as PostgreSQL writes it: a whole JSON string. One inside a member's text is escaped
# (`\"mediakey:…\"`): preceded by a backslash, it is left alone.
_PLACEHOLDERS = re.compile(rb'"mediakey:(media/[0-9a-f]{64}(?:-thumb)?\.(?:jpg|png))"')

# `{ids}` is the SQL expression of the row's bigint[] of media ids, e.g. p.image_ids.
IMAGES_JSON = """coalesce((
    SELECT json_agg(json_build_object(
        'id', m.id::text, 'url', 'mediakey:' || o.storage_key, 'thumbnailUrl', 'mediakey:' || o.thumbnail_key,
        'width', o.width, 'height', o.height) ORDER BY i.ord)
    FROM unnest({ids}) WITH ORDINALITY AS i(id, ord)
    JOIN media m ON m.id = i.id
    JOIN media_objects o ON o.sha256 = m.object_sha256
), '[]'::json)"""

# The same, for readers other than the uploader: only what WeChat approved.
APPROVED_IMAGES_JSON = IMAGES_JSON.replace(
    "ON o.sha256 = m.object_sha256", "ON o.sha256 = m.object_sha256 AND o.status = 'approved'"
)

# now() read in a subquery: Citus takes no STABLE function inside COALESCE in an UPDATE.
_CLAIM = """
UPDATE media m SET attached_at = coalesce(m.attached_at, t.at)
FROM media_objects o, (SELECT now() AS at) t
WHERE m.id = ANY($1::bigint[]) AND m.owner_id = $2 AND o.sha256 = m.object_sha256
RETURNING m.id, o.status
"""

_STATE = """
SELECT coalesce(bool_and(o.status = 'approved'), true) AS approved, coalesce(bool_or(o.status = 'rejected'), false)
       AS rejected, max(o.label) FILTER (WHERE o.status = 'rejected') AS label
FROM media m JOIN media_objects o ON o.sha256 = m.object_sha256
WHERE m.id = ANY($1::bigint[])
"""


_APPROVE_HELD = """
UPDATE media_objects SET status = 'approved'
WHERE status = 'review' AND sha256 IN (SELECT object_sha256 FROM media WHERE id = ANY($1::bigint[]))
RETURNING sha256
"""


# The contents of uploads ($1) WeChat held for review, in one order for every taker of their locks.
_HELD = """
SELECT DISTINCT o.sha256 FROM media m JOIN media_objects o ON o.sha256 = m.object_sha256
WHERE m.id = ANY($1::bigint[]) AND o.status = 'review'
ORDER BY o.sha256
"""
_LOCK_HELD = "SELECT pg_advisory_xact_lock(hashtextextended('media_held:' || $1, 0))"


async def lock_held_images(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    """Before a moderator's release locks its post or comment: the held photos it will approve, so two releases of
    one photo go one after the other (the first shows what else waits for the photo, the other's post included),
    never each holding its own post while waiting for the other's."""
    for row in await conn.fetch(_HELD, list(ids)) if ids else ():
        await conn.execute(_LOCK_HELD, row["sha256"])


async def approve_held_images(conn: asyncpg.Connection, ids: Sequence[int]) -> list[str]:
    """A moderator approved content whose photos WeChat held for `review`: a person decided, they are shown. Returns
    the contents (sha256) approved now: whatever else waits for them is told, as of WeChat's `pass`."""
    if not ids:
        return []
    return [row["sha256"] for row in await conn.fetch(_APPROVE_HELD, list(ids))]


async def claim_images(conn: asyncpg.Connection, owner_id: int, ids: Sequence[int], field: str = "imageIds") -> str:
    """Attach the writer's uploads (in the caller's transaction); `approved` or `pending`."""
    if len(set(ids)) != len(ids):
        raise invalid(field, "lists the same image twice")
    rows = {row["id"]: row["status"] for row in await conn.fetch(_CLAIM, list(ids), owner_id)}
    missing = [index for index, media_id in enumerate(ids) if media_id not in rows]
    if missing:  # `imageIds[2]` in a list; `imageId` alone
        raise invalid(f"{field}[{missing[0]}]" if field.endswith("s") else field, "is not a photo you uploaded")
    refused = [index for index, media_id in enumerate(ids) if rows[media_id] == "rejected"]
    if refused:
        raise Problem("media_rejected", f"image {refused[0]} did not pass WeChat's image check")
    return "approved" if all(status == "approved" for status in rows.values()) else "pending"


async def images_state(conn: asyncpg.Connection, ids: Sequence[int]) -> tuple[str, int | None]:
    """(`approved` | `pending` | `rejected`, the refusing label) of a row's images; no images is approved."""
    row = await conn.fetchrow(_STATE, list(ids))
    if row["rejected"]:
        return "rejected", row["label"]
    return ("approved" if row["approved"] else "pending"), None


PUBLIC_PATH = "/v1/media/public/"


_PURPOSE = "SELECT purpose FROM media WHERE id = $1 AND owner_id = $2"


async def claim_public_image(
    conn: asyncpg.Connection, owner_id: int, media_id: int, field: str, base_url: str, purpose: str
) -> str:
    """An avatar or a cover (``purpose``): the stable URL of one of the member's uploads of that purpose (a redirect
    to a fresh signed URL, served to anyone once WeChat approved it: GET /v1/media/public/{id}, which serves no
    other purpose)."""
    uploaded_as = await conn.fetchval(_PURPOSE, media_id, owner_id)
    if uploaded_as is not None and uploaded_as != purpose:  # none: claim_images says it is not theirs
        raise invalid(field, f"is not a photo uploaded as {purpose} (purpose `{purpose}`)")
    await claim_images(conn, owner_id, [media_id], field)
    return f"{base_url.rstrip('/')}{PUBLIC_PATH}{media_id}"


# Run by the media domain: deletes the stored files of contents no upload refers to any more.
FILES_KIND = "media.files"

# The uploads of something deleted (the caller already marked it deleted, in its transaction) that nothing else
# alive shows: a post or comment not deleted, trial feedback, a poll, or (purpose avatar or cover: only those are
# served by the public link) a member's avatar or a community's cover. Those still shown are read first (across
# the communities' shards), then the others deleted: Citus deletes from a reference table (media) reading
# reference tables only.
_SHOWN = f"""
SELECT i FROM posts p, unnest(p.image_ids) i
WHERE p.image_ids <> '{{}}' AND p.image_ids && $1::bigint[] AND p.deleted_at IS NULL AND i = ANY($1::bigint[])
UNION
SELECT c.image_id FROM comments c WHERE c.image_id = ANY($1::bigint[]) AND c.deleted_at IS NULL
UNION
SELECT i FROM trial_feedback f, unnest(f.image_ids) i
WHERE f.image_ids <> '{{}}' AND f.image_ids && $1::bigint[] AND i = ANY($1::bigint[])
UNION
SELECT i FROM polls x, unnest(x.image_ids) i
WHERE x.image_ids <> '{{}}' AND x.image_ids && $1::bigint[] AND i = ANY($1::bigint[])
UNION
SELECT m.id FROM media m JOIN communities c ON c.cover_url LIKE '%{PUBLIC_PATH}' || m.id
WHERE m.id = ANY($1::bigint[]) AND m.purpose IN ('avatar', 'cover')
"""  # noqa: S608 - a constant path, formatted at import time

_HOLD = "SELECT id FROM media WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE"


async def hold_images(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    """Lock the uploads that a deletion (or an edit) may release, before `release_images` reads what still shows
    them. A writer claiming one of them (its claim writes the row) either claimed it first, and the read, made once
    that writer committed, sees it shown; or finds it deleted (400, not an upload of theirs). Read unlocked, a
    writer that claimed the upload meanwhile was missed and the upload it now showed deleted. A deletion takes this
    first, before it writes its row: as the writers take the upload before theirs (claim_images, then the insert),
    neither waits for the other's rows while holding what the other needs (the member's day of the speech
    roll-up, written by both)."""
    if ids:
        await conn.execute(_HOLD, list(ids))


# $2: the uploads _SHOWN found.
_RELEASE = f"""
DELETE FROM media m
WHERE m.id = ANY($1::bigint[]) AND NOT m.id = ANY($2::bigint[])
  AND (m.purpose NOT IN ('avatar', 'cover')
       OR NOT EXISTS (SELECT FROM users u WHERE u.avatar_url LIKE '%{PUBLIC_PATH}' || m.id))
RETURNING m.id
"""  # noqa: S608 - a constant path, formatted at import time


async def release_images(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    """The writing is deleted (or no longer shows these photos): its uploads go, unless something else alive
    shows them, and a job deletes the stored files no upload refers to any more (in this transaction)."""
    if not ids:
        return
    await hold_images(conn, ids)  # held already by a deletion: taken again at no cost
    shown = [row[0] for row in await conn.fetch(_SHOWN, list(ids))]
    if await conn.fetch(_RELEASE, list(ids), shown):
        await enqueue(conn, FILES_KIND, dedupe_key=FILES_KIND)


async def sign_urls(storage: Storage, body: bytes) -> bytes:
    """Replace every image placeholder in a JSON answer with a signed URL (one signature per distinct key)."""
    if PLACEHOLDER not in body:  # most answers: one fast scan, no regex
        return body
    found = [match for match in _PLACEHOLDERS.finditer(body) if not body[match.start() - 1 : match.start()] == b"\\"]
    if not found:
        return body
    urls = await storage.urls(sorted({match.group(1).decode() for match in found}))
    parts, last = [], 0
    for match in found:
        parts += [body[last : match.start()], b'"', urls[match.group(1).decode()].encode(), b'"']
        last = match.end()
    return b"".join([*parts, body[last:]])


async def sign_answer(storage: Storage, answer: Response[bytes]) -> Response[bytes]:
    """Sign the images of an answer built as bytes (a page from PostgreSQL, an answer kept for an Idempotency-Key):
    what is cached or stored keeps its placeholders, never URLs."""
    answer.content = await sign_urls(storage, answer.content)
    return answer


async def signed_json(storage: Storage, value: object, status: int = 200) -> Response[bytes]:
    """An answer whose images (decoded from `IMAGES_JSON`) get their URLs signed."""
    body = await sign_urls(storage, msgspec.json.encode(value))
    return Response(content=body, status_code=status, media_type="application/json")


def images_of(row: asyncpg.Record, column: str = "images") -> list[Image]:
    """The `images` column (IMAGES_JSON as text) of a row, placeholders still in."""
    return msgspec.json.decode(row[column], type=list[Image])
