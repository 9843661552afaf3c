"""HTTP routes of photos: upload (what wx.uploadFile sends), read, and the local store's signed file links."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body, PathParameter, QueryParameter
from litestar.response import Redirect

from service.core.deps import AppSettings, Db, Store
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.core.storage import LOCAL_PREFIX, local_url_valid
from service.errors import Problem
from service.media import logic
from service.media import models as m
from service.media import queries as q
from service.media.problems import PROBLEMS
from service.openapi import documenter

doc = documenter(PROBLEMS)
AUTH = ("unauthorized", "token_expired")
# The form around a 10 MB file: the body limit of this one route (the app's is 1 MB).
UPLOAD_BODY_MAX = 10 * 1024 * 1024 + 64 * 1024
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png"}
FILE_NAME = r"^[0-9a-f]{64}(-thumb)?\.(jpg|png)$(?!\n)"


class MediaController(Controller):
    path = "/media"
    tags = ["media"]
    security = BEARER_SECURITY

    @post(
        "",
        status_code=201,
        request_max_body_size=UPLOAD_BODY_MAX,
        **doc(
            "uploadMedia",
            "Upload a photo as wx.uploadFile sends it (multipart, field `file`)",
            *AUTH,
            "media_unsupported_type",
            "media_too_large",
            "payload_too_large",
            "media_too_many_pixels",
            "media_unreadable",
            "rate_limited",
            "idempotency_key_reused",
            "not_ready",
        ),
    )
    async def upload(
        self,
        data: Annotated[m.UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
        caller: CurrentUser,
        state: State,
        settings: AppSettings,
        storage: Store,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Media]:
        """`wx.uploadFile({url, filePath, name: "file", formData: {purpose: "post"}})`; the answer body arrives as
        a string: `JSON.parse(res.data)`. The type is judged by the bytes (JPEG, PNG, WebP, GIF, HEIC), at most
        10 MB and 50 million pixels. Orientation is applied and every piece of metadata (EXIF with GPS, XMP, ICC)
        is removed. The answer's URLs work for the uploader at once; others see the photo only once WeChat's
        image check approved it (`status`). Per member: 30 uploads a minute, 300 a day (429 with Retry-After).
        Send an `Idempotency-Key` per photo and repeat it when retrying: a retry of the same file answers the upload
        made first (same id, the first answer's URLs: `GET /v1/media/{id}` signs fresh ones), without counting
        against the limits or decoding again; the same key with another file or purpose is `idempotency_key_reused`.
        When the photo storage fails (unreachable, erroring), 503 `not_ready` with Retry-After: nothing was stored
        and the attempt does not count against the limits; send it again (same key)."""
        # `caller`, not `user`: no connection held for the request (decoding takes a while); logic.upload takes
        # one for its checks and one for its transaction.
        content = await data.file.read(settings.media_max_bytes + 1)
        await data.file.close()
        return await logic.upload(state.pool, settings, storage, caller.id, content, data.purpose, idempotency_key)

    @get(
        "/{media_id:str}",
        **doc("getMedia", "A photo of mine, with fresh signed URLs", *AUTH, "not_found"),
    )
    async def read(self, media_id: PathId, user: CurrentUser, db: Db, storage: Store) -> m.Media:
        """URLs expire (`urlExpiresAt`): ask again for fresh ones. Another member's photo is `not_found`."""
        return await logic.read(db, storage, media_id, user.id)


class MediaFilesController(Controller):
    """The local store's files (`make run`, tests). With a bucket, URLs point at the bucket instead."""

    path = "/media/files"
    tags = ["media"]

    @get(
        "/{name:str}",
        media_type="image/jpeg",
        **doc("getMediaFile", "A stored image behind a signed, expiring link", "media_link_invalid", "not_found"),
    )
    async def file(
        self,
        name: Annotated[str, PathParameter(pattern=FILE_NAME, description="The file's name in the store")],
        storage: Store,
        settings: AppSettings,
        expires: Annotated[int, QueryParameter(ge=0, le=2**53 - 1, description="Expiry, epoch seconds")],
        signature: Annotated[str, QueryParameter(min_length=1, max_length=64, description="HMAC of key and expiry")],
    ) -> Response[bytes]:
        """The links in a media resource; no token needed (WeChat's image check fetches them too)."""
        stored = LOCAL_PREFIX + name
        if not storage.local:
            raise Problem("not_found", "files are served by the bucket")
        if not local_url_valid(settings, stored, expires, signature):
            raise Problem("media_link_invalid", "the link is not ours or has expired")
        content = await storage.read(stored)
        if content is None:
            raise Problem("not_found", "no such file")
        content_type = CONTENT_TYPES.get(stored.rsplit(".", 1)[-1], "application/octet-stream")
        headers = {"cache-control": "private, max-age=3600", "x-content-type-options": "nosniff"}
        return Response(content, media_type=content_type, headers=headers)


class PublicMediaController(Controller):
    """Avatars and covers: stable links that anyone may open (an <image> sends no token)."""

    path = "/media/public"
    tags = ["media"]

    @get(
        "/{media_id:str}",
        status_code=302,
        **doc("openPublicMedia", "An avatar or a cover: a redirect to a freshly signed URL", "not_found"),
    )
    async def open(self, media_id: PathId, db: Db, storage: Store) -> Redirect:
        """What `avatarUrl` and `coverUrl` point at when set from an upload: once WeChat approved the photo, a
        302 to a signed URL of its thumbnail (avatar) or display image (cover), cacheable for 5 minutes (the
        signed URL lives an hour); before that, or for any other upload, 404."""
        row = await db.fetchrow(q.PUBLIC_IMAGE, media_id)
        if row is None:
            raise Problem("not_found", "no such avatar or cover")
        key = row["thumbnail_key"] if row["purpose"] == "avatar" else row["storage_key"]
        return Redirect(await storage.url(key), status_code=302, headers={"cache-control": "public, max-age=300"})


CONTROLLERS = [MediaController, MediaFilesController, PublicMediaController]
