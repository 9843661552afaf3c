"""The problem codes of the media domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code("media_unsupported_type", 415, "The file is not a JPEG, PNG, WebP, GIF or HEIC image (judged by its bytes)."),
    Code("media_too_large", 413, "The file is larger than 10 MB (MEDIA_MAX_BYTES)."),
    Code("media_too_many_pixels", 422, "The image has more pixels than MEDIA_MAX_PIXELS; it was not decoded."),
    Code("media_unreadable", 422, "The image is damaged or cut short.", action="fix"),
    Code("media_link_invalid", 403, "The file link is not signed by us or has expired: ask for the media again."),
)
