"""Background jobs: a `jobs` table polled with FOR UPDATE SKIP LOCKED by any number of workers.

Each domain declares its job kinds in a `Registry` of its own (`JOBS = Registry()`, `@JOBS.job("kind")`), listed
in its `Domain`; the worker runs the kinds of the one domain list. Domains enqueue work in their own
transactions (`enqueue`), so a job exists exactly when the change that needs it committed. See worker.py for
leases, retries and shutdown.
"""

from service.jobs.queue import JobContext, Registry, Reschedule, enqueue

__all__ = ["JobContext", "Registry", "Reschedule", "enqueue"]
