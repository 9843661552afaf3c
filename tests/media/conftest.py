"""The media test world: the whole stack over loopback HTTP (the sandbox downloads our signed URLs and pushes its
verdicts to the API), an in-process worker for the check jobs, and photo files made with Pillow."""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image

from service.jobs.queries import SEED_PERIODIC
from service.media import queries as q
from tests.seed import Seeder, User, seeder_for
from tests.stack import Stack, full_stack
from tests.support import http_client

PERIODIC = [q.RESUBMIT_KIND, q.CLEANUP_KIND]


def phone_photo(width: int = 1200, height: int = 900, *, orientation: int = 6, color=(180, 60, 40)) -> bytes:
    """A JPEG as a phone writes it: EXIF with GPS coordinates, the camera and an orientation flag."""
    image = Image.new("RGB", (width, height), color)
    image.paste((20, 20, 200), (0, 0, width // 4, height // 4))  # a corner mark, to see the orientation applied
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class MediaWorld:
    stack: Stack
    seeder: Seeder

    @property
    def api(self) -> httpx.AsyncClient:
        return self.seeder.api

    async def user(self, name: str) -> User:
        return await self.seeder.user(name)

    async def upload(
        self, who: User, data: bytes, purpose: str = "post", name: str = "tmp_1.jpg", key: str | None = None
    ) -> httpx.Response:
        """What wx.uploadFile sends: one multipart file under `file`, formData fields beside it (and the kit's
        Idempotency-Key header, when ``key``)."""
        files = {"file": (name, data, "image/jpeg")}
        headers = who.headers if key is None else {**who.headers, "Idempotency-Key": key}
        return await self.api.post("/v1/media", files=files, data={"purpose": purpose}, headers=headers)

    async def uploaded(self, who: User, data: bytes, **kwargs: Any) -> dict:
        response = await self.upload(who, data, **kwargs)
        assert response.status_code == 201, response.text
        return response.json()

    async def fetch(self, url: str) -> httpx.Response:
        async with http_client(timeout=10) as http:
            return await http.get(url)

    async def status(self, who: User, media_id: str) -> str:
        response = await self.api.get(f"/v1/media/{media_id}", headers=who.headers)
        assert response.status_code == 200, response.text
        return response.json()["status"]

    async def run_jobs(self) -> None:
        """Run the queued checks, then the periodic jobs once (re-submission, clean-up), then what they queued."""
        pool = self.seeder.pool
        await self.drain_checks()
        await pool.execute(SEED_PERIODIC, PERIODIC)
        await pool.execute("UPDATE jobs SET run_at = now() WHERE status = 'queued' AND kind = ANY($1)", PERIODIC)
        await self.drain_checks()

    async def run_queued(self, kind: str) -> int:
        """Run the jobs of one kind queued so far, now (not the periodic clean-up): how many there were."""
        pool = self.seeder.pool
        queued = await pool.fetchval("SELECT count(*) FROM jobs WHERE status = 'queued' AND kind = $1", kind)
        await pool.execute("UPDATE jobs SET run_at = now() WHERE status = 'queued' AND kind = $1", kind)
        for _ in range(10):
            if await self.seeder.worker.run_once() == 0:
                break
        return queued

    async def drain_checks(self) -> None:
        for _ in range(20):
            await self.seeder.pool.execute(
                "UPDATE jobs SET run_at = now() WHERE status = 'queued' AND kind = $1", q.CHECK_KIND
            )
            if await self.seeder.worker.run_once() == 0:
                return

    async def sandbox(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self.stack.sandbox.control(method, f"/sandbox/media{path}", **kwargs)


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 in server mode: a real HTTP server speaking the S3 protocol (signatures included)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


S3_KEYS = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}


def s3_settings(endpoint: str, bucket: str = "photos") -> dict[str, str]:
    """The settings of a world whose photos go to ``bucket`` at ``endpoint`` (moto's keys)."""
    return {
        "media_s3_bucket": bucket,
        "media_s3_endpoint": endpoint,
        "media_s3_access_key_id": S3_KEYS["aws_access_key_id"],
        "media_s3_secret_access_key": S3_KEYS["aws_secret_access_key"],
    }


@contextlib.asynccontextmanager
async def media_world(database_url: str, pay_keys, **overrides: object) -> AsyncIterator[MediaWorld]:
    async with full_stack(database_url, pay_keys, **overrides) as stack, seeder_for(stack) as seeder:
        yield MediaWorld(stack, seeder)


@pytest.fixture
async def world(database_url: str, pay_keys) -> AsyncIterator[MediaWorld]:
    async with media_world(database_url, pay_keys) as running:
        yield running
