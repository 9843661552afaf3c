"""Background jobs: a `jobs` table polled with FOR UPDATE SKIP LOCKED by any number of workers.

Domains register job kinds (`@job("kind")`) and enqueue work in their own transactions (`enqueue`), so a job
exists exactly when the change that needs it committed. See worker.py for leases, retries and shutdown.
"""

from service.jobs.queue import JobContext, Reschedule, enqueue, job, registry

__all__ = ["JobContext", "Reschedule", "enqueue", "job", "registry"]
