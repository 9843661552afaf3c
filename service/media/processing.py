"""Turning an uploaded file into the images we serve, with Pillow (run in a worker thread, never on the loop).

- The type is what the bytes say (Pillow's format sniffing restricted to JPEG, PNG, WebP, GIF and, with
  pillow-heif, HEIC), never the file name.
- The pixel count is read from the header and checked before anything is decoded: a few KB of PNG can claim
  20000×20000 pixels (a decompression bomb).
- EXIF orientation is applied, then nothing of the original's metadata is written back: no EXIF (GPS, camera,
  time), no XMP, no ICC profile, no text chunks. Animated GIFs keep their first frame.
- Decoded at a reduced scale where JPEG allows it (a 12 Mpx photo decodes at 3 Mpx).
- Two sizes: a display image (long edge at most DISPLAY_EDGE) and a thumbnail (THUMB_EDGE); JPEG, or PNG when
  the image has transparency.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import tempfile
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

try:  # HEIC (iPhone photos) when the maintained decoder is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF = ("HEIF",)
except ImportError:  # pragma: no cover - pillow-heif is a dependency; a build without it refuses HEIC as 415
    HEIF = ()

DISPLAY_EDGE = 1600
THUMB_EDGE = 400
JPEG_QUALITY = 85
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", *HEIF)
# Our own pixel check runs first; Pillow's is only a backstop that must not fire before it.
Image.MAX_IMAGE_PIXELS = None


class Refused(Exception):
    """The file is not an image we take; `code` is the problem code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Processed:
    display: bytes
    thumbnail: bytes
    mime_type: str  # of what we serve
    extension: str
    width: int
    height: int
    source_format: str
    sha256: str  # of the display image: identical photos are stored once

    @property
    def key(self) -> str:
        return f"media/{self.sha256}.{self.extension}"

    @property
    def thumbnail_key(self) -> str:
        return f"media/{self.sha256}-thumb.{self.extension}"


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _scratch() -> io.BufferedRandom:
    """A file with a descriptor, in memory where Linux allows (memfd), else a temporary file."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("media-encode"), "w+b")  # noqa: SIM115 - closed by the caller's `with`
    return tempfile.TemporaryFile()  # noqa: SIM115


def _encode(image: Image.Image, alpha: bool) -> bytes:
    # Into a file with a descriptor, not a BytesIO: Pillow then encodes with the GIL released. Into a BytesIO a
    # progressive JPEG is written by one call that holds the GIL for the whole encode (~45 ms for 1600 px), and
    # the event loop, beside this worker thread, stalls that long on every upload (benchmarks/RESULTS.md).
    with _scratch() as out:
        if alpha:
            image.save(out, "PNG", optimize=False)
        else:
            image.save(out, "JPEG", quality=JPEG_QUALITY, progressive=True)
        out.seek(0)
        return out.read()


def process(data: bytes, max_pixels: int) -> Processed:
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (UnidentifiedImageError, OSError, ValueError):
        raise Refused("media_unsupported_type", "the file is not a JPEG, PNG, WebP, GIF or HEIC image") from None
    with image:
        source_format = image.format or "unknown"
        width, height = image.size
        if width * height > max_pixels:
            raise Refused("media_too_many_pixels", f"{width}×{height} pixels is more than {max_pixels} in all")
        if source_format == "JPEG":
            # Decode at a reduced scale when the photo is far larger than what we keep (libjpeg's DCT scaling):
            # at least the display size along the long edge, whichever way the photo is turned.
            scale = min(1.0, DISPLAY_EDGE / max(width, height))
            image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
        try:
            image.seek(0)
            oriented = ImageOps.exif_transpose(image)
            alpha = _has_alpha(oriented)
            display = oriented.convert("RGBA" if alpha else "RGB")
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            raise Refused("media_unreadable", "the image is damaged or cut short") from None
    # None of the original's info (EXIF, XMP, ICC, comments) may be written back: the encoders read it from here.
    display.info = {}
    display.thumbnail((DISPLAY_EDGE, DISPLAY_EDGE), Image.Resampling.LANCZOS)
    thumbnail = display.copy()
    thumbnail.thumbnail((THUMB_EDGE, THUMB_EDGE), Image.Resampling.LANCZOS)
    shown = _encode(display, alpha)
    return Processed(
        display=shown,
        thumbnail=_encode(thumbnail, alpha),
        mime_type="image/png" if alpha else "image/jpeg",
        extension="png" if alpha else "jpg",
        width=display.width,
        height=display.height,
        source_format=source_format,
        sha256=hashlib.sha256(shown).hexdigest(),
    )
