"""Photo uploads in `make bench`: CPU per upload, uploads per second, and the feed's p99 while uploads run.

Each figure has a same-run baseline: processing is compared with only decoding the same photo, and the feed's
p99 during uploads with its p99 alone, on the same server, in the same run.
"""

from __future__ import annotations

import io
import os
import random
import threading
import time
from collections.abc import Callable

import httpx
from PIL import Image

from service.media.processing import process

# The upload limits are per member; the benchmark's one member uploads far more than a person would.
SERVER_ENV = {"MEDIA_UPLOADS_PER_MINUTE": "10000000", "MEDIA_UPLOADS_PER_DAY": "10000000"}
UPLOADERS = 4


def phone_jpeg(target_bytes: int = 3_000_000) -> bytes:
    """A 4032×3024 JPEG of about 3 MB with a phone's EXIF (GPS, orientation): noise keeps it from compressing."""
    rng = random.Random(7)
    small = Image.frombytes("RGB", (504, 378), bytes(rng.getrandbits(8) for _ in range(504 * 378 * 3)))
    image = small.resize((4032, 3024), Image.Resampling.BICUBIC)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)}
    for quality in (95, 90, 85, 80, 75):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, exif=exif)
        if len(out.getvalue()) <= target_bytes * 1.2:
            break
    return out.getvalue()


def _cpu_ms(work: Callable[[], object], rounds: int) -> float:
    work()
    started = time.process_time()
    for _ in range(rounds):
        work()
    return (time.process_time() - started) * 1000 / rounds


def cpu_per_upload(photo: bytes, rounds: int = 8) -> tuple[str, str, str, float, str]:
    """What the server spends on one upload (sniff, decode, orient, strip, resize twice, encode) against only
    decoding the same file at full size."""

    def decode_only() -> None:
        with Image.open(io.BytesIO(photo)) as image:
            image.load()

    processing = _cpu_ms(lambda: process(photo, 50_000_000), rounds)
    decoding = _cpu_ms(decode_only, rounds)
    return (
        f"CPU per upload of a {len(photo) / 1e6:.1f} MB 4032×3024 phone JPEG (process())",
        f"{processing:.0f} ms",
        f"{decoding:.0f} ms (full decode of the same file)",
        processing / decoding,
        "<= 3.0",
    )


class Uploader:
    """Uploads distinct copies of the photo (bytes after the JPEG's end differ: no deduplication) until stopped."""

    def __init__(self, base_url: str, headers: dict[str, str], photo: bytes) -> None:
        self.base_url, self.headers, self.photo = base_url, headers, photo
        self.done = self.failed = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=60) as http:
            while not self.stop.is_set():
                data = self.photo + os.urandom(16)
                files = {"file": ("tmp.jpg", data, "image/jpeg")}
                response = http.post("/v1/media", files=files, data={"purpose": "post"}, headers=self.headers)
                with self._lock:
                    if response.status_code == 201:
                        self.done += 1
                    else:
                        self.failed += 1

    def run_for(self, seconds: float, during: Callable[[], dict] | None = None) -> tuple[float, dict | None]:
        threads = [threading.Thread(target=self._run, daemon=True) for _ in range(UPLOADERS)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        measured = during() if during else None
        remaining = seconds - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        self.stop.set()
        for thread in threads:
            thread.join()
        if self.failed:
            raise RuntimeError(f"{self.failed} uploads failed")
        return self.done / (time.monotonic() - started), measured


def uploads_beside_feed(
    base_url: str, headers: dict[str, str], feed: Callable[[], dict], duration: int, photo: bytes
) -> list[tuple[str, str, str, float, str]]:
    """Uploads per second, and the feed route's p99 (wrk) while they run against its p99 alone."""
    alone = feed()
    rate, during = Uploader(base_url, headers, photo).run_for(duration, feed)
    assert during is not None
    return [
        (
            f"uploads per second ({UPLOADERS} uploaders, one server worker with its one decoder thread)",
            f"{rate:.1f} uploads/s",
            f"{1000 / max(cpu_per_upload_ms(photo), 1):.1f} uploads/s (one core's CPU per upload)",
            rate / (1000 / max(cpu_per_upload_ms(photo), 1)),
            ">= 0.4",
        ),
        (
            "feed_latest p99 while uploads run",
            f"{during['p99_us'] / 1000:.1f} ms ({during['rps']:.0f} req/s)",
            f"{alone['p99_us'] / 1000:.1f} ms ({alone['rps']:.0f} req/s) alone",
            during["p99_us"] / max(alone["p99_us"], 1),
            "<= 2.0",
        ),
    ]


_CPU_MS: dict[int, float] = {}


def cpu_per_upload_ms(photo: bytes) -> float:
    if len(photo) not in _CPU_MS:
        _CPU_MS[len(photo)] = _cpu_ms(lambda: process(photo, 50_000_000), 4)
    return _CPU_MS[len(photo)]
