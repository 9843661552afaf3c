"""`python -m service worker` as a real process: killed in the middle of a refund, then resumed elsewhere."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import msgspec

from service.checkout import logic
from tests.support import ROOT


def worker_env(world, **overrides) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "DATABASE_", "JOBS_"))}
    for name, value in {**msgspec.structs.asdict(world.settings), **overrides}.items():
        if value is not None:
            env[name.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


async def start_worker(world, **overrides) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "worker",
        cwd=ROOT,
        env=worker_env(world, **overrides),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_a_worker_killed_mid_refund_is_resumed_and_refunds_once(world):
    _, auth = await world.user()
    order = await world.order(auth, amount_fen=5000)
    await world.pay_order(order)
    # WeChat answers the refund slowly: long enough to kill the worker while it waits.
    await world.control.post("/sandbox/pay/faults", json={"operation": "refund", "code": "", "delaySeconds": 2})
    async with world.pool.acquire() as conn, conn.transaction():
        await logic.refund_order(conn, int(order["id"]), reason="admin: event cancelled")
    process = await start_worker(world, jobs_lease=1, jobs_poll_interval=0.05)
    try:
        async with asyncio.timeout(20):
            while world.sandbox.calls["refund"] == 0:
                await asyncio.sleep(0.02)
    finally:
        process.kill()
        await process.wait()
    job = await world.pool.fetchrow("SELECT * FROM jobs WHERE kind = 'checkout.refund'")
    assert job["status"] == "running" and job["attempts"] == 1  # the dead worker still "holds" it
    # Until its lease lapses nobody takes it (periodic jobs the dead worker seeded may run meanwhile).
    await world.worker.run_once()
    job = await world.pool.fetchrow("SELECT * FROM jobs WHERE kind = 'checkout.refund'")
    assert job["status"] == "running" and job["attempts"] == 1
    await asyncio.sleep(1.1)
    await world.run_due_jobs()
    done = await world.wait_for(order["id"], auth, "refunded")
    assert done["refundedFen"] == 5000 and len(done["refunds"]) == 1
    assert len(world.sandbox.refunds) == 1
    assert await world.pool.fetchval("SELECT count(*) FROM ledger_entries WHERE kind = 'refund'") == 1
    job = await world.pool.fetchrow("SELECT * FROM jobs WHERE kind = 'checkout.refund'")
    assert job["status"] == "done" and job["attempts"] == 2
    assert await world.ledger_violations() == []


async def test_the_worker_stops_cleanly_on_sigterm(world):
    process = await start_worker(world)
    try:
        async with asyncio.timeout(20):
            while b"worker started" not in await process.stdout.readline():
                pass
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
