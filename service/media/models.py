"""The media resource and the upload form (camelCase on the wire, ids as strings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar.datastructures import UploadFile
from msgspec import Meta

# What a photo is for; it picks the scene of WeChat's check (profile, comment, forum post, social log).
Purpose = Literal["post", "comment", "avatar", "cover", "introduction", "checkin", "feedback"]
SCENES: dict[str, int] = {
    "avatar": 1,
    "cover": 1,
    "introduction": 1,
    "comment": 2,
    "post": 3,
    "feedback": 3,
    "checkin": 4,
}
Status = Literal["pending", "approved", "rejected"]


@dataclass
class UploadForm:
    """What `wx.uploadFile({name: "file", formData: {purpose}})` sends."""

    file: UploadFile
    purpose: Purpose = "post"


class Media(msgspec.Struct, rename="camel", kw_only=True):
    id: Annotated[str, Meta(examples=["8812"], description="The media id, as posts and profiles take it")]
    status: Annotated[
        Status,
        Meta(
            description=(
                "WeChat's image check: `pending` until its verdict (also while a person reviews it), `approved`, "
                "or `rejected`. Only its uploader sees an image that is not approved."
            )
        ),
    ]
    purpose: Purpose
    width: Annotated[int, Meta(examples=[1200], description="Pixels of the display image (long edge ≤ 1600)")]
    height: Annotated[int, Meta(examples=[1600])]
    bytes: Annotated[int, Meta(examples=[284113], description="Bytes of the display image")]
    mime_type: Annotated[str, Meta(examples=["image/jpeg"], description="image/jpeg, or image/png with transparency")]
    url: Annotated[
        str,
        Meta(
            examples=["https://api.example.com/v1/media/files/4e0b…b66a.jpg?expires=1764580200&signature=…"],
            description="The display image: a signed URL that expires (`urlExpiresAt`)",
        ),
    ]
    thumbnail_url: Annotated[
        str,
        Meta(
            examples=["https://api.example.com/v1/media/files/4e0b…b66a-thumb.jpg?expires=1764580200&signature=…"],
            description="The thumbnail (long edge ≤ 400), signed like `url`",
        ),
    ]
    url_expires_at: Annotated[datetime, Meta(description="Ask again (GET /v1/media/{id}) for fresh URLs after this")]
    created_at: datetime
