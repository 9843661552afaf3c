"""`python -m service worker` as a real process for tests: started with the world's settings, killed at will."""

from __future__ import annotations

import asyncio
import os
import sys

import msgspec

from tests.support import ROOT


def worker_env(world, **overrides) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "DATABASE_", "JOBS_"))}
    for name, value in {**msgspec.structs.asdict(world.settings), **overrides}.items():
        if value is not None:
            env[name.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


async def start_worker(world, *, quiet: bool = False, **overrides) -> asyncio.subprocess.Process:
    """The worker with the world's settings (`overrides` win). Its log is on `process.stdout` unless `quiet`:
    read it, or pass quiet, when the worker runs for long (a full pipe would block it)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "worker",
        cwd=ROOT,
        env=worker_env(world, **overrides),
        stdout=asyncio.subprocess.DEVNULL if quiet else asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
