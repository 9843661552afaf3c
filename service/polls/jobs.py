"""Job kinds of naming polls. Each is idempotent: it re-reads the poll and does only what is still due."""

from __future__ import annotations

from datetime import UTC, datetime

from service.jobs import JobContext, Registry, Reschedule
from service.polls import closing, trials

JOBS = Registry()


@JOBS.job("polls.advance")
async def advance(ctx: JobContext, payload: dict) -> None:
    """At a phase deadline: open voting, or close the poll (tally, trials, result post)."""
    async with ctx.pool.acquire() as conn:
        await closing.advance_due(conn, int(payload["poll_id"]))


@JOBS.job("polls.expire_trials")
async def expire_trials(ctx: JobContext, payload: dict) -> None:
    """At the claim deadline: unclaimed qualifications become expired."""
    async with ctx.pool.acquire() as conn:
        next_deadline = await trials.expire_due(conn, int(payload["poll_id"]))
    if next_deadline is not None:
        raise Reschedule((next_deadline - datetime.now(UTC)).total_seconds() + 1)


@JOBS.job("polls.trial_closing")
async def trial_closing(ctx: JobContext, payload: dict) -> None:
    """A day before the claim deadline: holders who have not claimed are told."""
    async with ctx.pool.acquire() as conn:
        await trials.remind_unclaimed(conn, int(payload["poll_id"]), payload["product"])
