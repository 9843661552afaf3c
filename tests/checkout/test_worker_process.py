"""`python -m service worker` as a real process: killed in the middle of a refund, then resumed elsewhere."""

from __future__ import annotations

import asyncio
import signal

from service.core import money as logic
from tests.checkout.worker_process import start_worker


async def test_a_worker_killed_mid_refund_is_resumed_and_refunds_once(world):
    _, auth = await world.user()
    order = await world.order(auth, amount_fen=5000)
    await world.pay_order(order)
    # WeChat answers the refund slowly: long enough to kill the worker while it waits.
    await world.control.post("/sandbox/pay/faults", json={"operation": "refund", "code": "", "delaySeconds": 2})
    async with world.pool.acquire() as conn, conn.transaction():
        await logic.refund_order(conn, int(order["id"]), reason="admin: event cancelled")
    # A lease of 3 s keeps "still held by the dead worker" true long enough on a loaded machine; concurrency
    # above the number of periodic kinds: its first poll claims every due job, so the test's own worker below
    # finds nothing left over but the refund the dead worker holds.
    process = await start_worker(world, jobs_lease=3, jobs_poll_interval=0.05, jobs_concurrency=16)
    try:
        async with asyncio.timeout(20):
            while world.sandbox.calls["refund"] == 0:
                await asyncio.sleep(0.02)
    finally:
        process.kill()
        await process.wait()
    job = await world.pool.fetchrow("SELECT * FROM jobs WHERE kind = 'checkout.refund'")
    assert job["status"] == "running" and job["attempts"] == 1  # the dead worker still "holds" it
    # Until its lease lapses nobody else takes it (the periodic jobs the dead worker seeded may run meanwhile).
    await world.worker.run_once()
    held = await world.pool.fetchrow("SELECT status, attempts FROM jobs WHERE kind = 'checkout.refund'")
    assert (held["status"], held["attempts"]) == ("running", 1)
    await asyncio.sleep(3.2)
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
