"""SQL of the job queue."""

# A key already queued is kept as it is; one running is asked to go again (`again_at`, the earliest asked for)
# when $6: its run may have read what it works on before the caller's work was committed. `added`: a new job.
ENQUEUE = """
INSERT INTO jobs AS j (kind, payload, run_at, dedupe_key, max_attempts)
VALUES ($1, $2, coalesce($3, now()), $4, $5)
ON CONFLICT (dedupe_key) WHERE status IN ('queued', 'running') DO UPDATE
SET again_at = least(coalesce(j.again_at, EXCLUDED.run_at), EXCLUDED.run_at)
WHERE j.status = 'running' AND $6
RETURNING id, again_at IS NULL AS added
"""

# Every finish of a run below honours `again_at`: the job is queued again by then rather than left done, failed or
# waiting longer.

# Due jobs, plus running jobs whose lease expired (their worker died). SKIP LOCKED: workers never wait for
# each other nor take the same row; the attempt number fences a late finish by a worker that lost its lease.
CLAIM = """
UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1,
       locked_until = now() + make_interval(secs => $2), updated_at = now()
WHERE id IN (
    SELECT id FROM jobs
    WHERE (status = 'queued' AND run_at <= now()) OR (status = 'running' AND locked_until < now())
    ORDER BY run_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
RETURNING id, kind, payload, attempts, failures, max_attempts
"""

EXTEND_LEASE = """
UPDATE jobs SET locked_until = now() + make_interval(secs => $3)
WHERE id = $1 AND attempts = $2 AND status = 'running'
"""

COMPLETE = """
UPDATE jobs SET status = CASE WHEN again_at IS NULL THEN 'done' ELSE 'queued' END, run_at = coalesce(again_at, run_at),
       again_at = NULL, failures = 0, locked_by = NULL, locked_until = NULL,
       finished_at = CASE WHEN again_at IS NULL THEN t.now END, updated_at = t.now
FROM (SELECT now() AS now) t  -- Citus takes no now() inside a CASE of a distributed UPDATE
WHERE id = $1 AND attempts = $2 AND status = 'running'
"""

RETRY = """
UPDATE jobs SET status = 'queued', run_at = least(now() + make_interval(secs => $3), again_at), again_at = NULL,
       last_error = $4, failures = failures + 1, locked_by = NULL, locked_until = NULL, updated_at = now()
WHERE id = $1 AND attempts = $2 AND status = 'running'
"""

# A reschedule is not a failure: the attempt does not count.
RESCHEDULE = """
UPDATE jobs SET status = 'queued', run_at = least(now() + make_interval(secs => $3), again_at), again_at = NULL,
       attempts = attempts - 1, locked_by = NULL, locked_until = NULL, updated_at = now()
WHERE id = $1 AND attempts = $2 AND status = 'running'
"""
# A periodic job ran well: queued for its next run with its failures cleared (the attempt number, which fences a
# finish, keeps going as a reschedule's).
NEXT_RUN = """
UPDATE jobs SET status = 'queued', run_at = least(now() + make_interval(secs => $3), again_at), again_at = NULL,
       attempts = attempts - 1, failures = 0, last_error = NULL, locked_by = NULL, locked_until = NULL,
       updated_at = now()
WHERE id = $1 AND attempts = $2 AND status = 'running'
"""

# Failed for good, unless new work was asked for meanwhile: then it starts over for that work.
FAIL = """
UPDATE jobs SET status = CASE WHEN again_at IS NULL THEN 'failed' ELSE 'queued' END,
       run_at = coalesce(again_at, run_at), again_at = NULL,
       failures = CASE WHEN again_at IS NULL THEN failures ELSE 0 END, last_error = $3, locked_by = NULL,
       locked_until = NULL, finished_at = CASE WHEN again_at IS NULL THEN t.now END, updated_at = t.now
FROM (SELECT now() AS now) t  -- as COMPLETE
WHERE id = $1 AND attempts = $2 AND status = 'running'
"""

# Graceful shutdown: hand back what this worker holds, so others take it at once.
RELEASE = """
UPDATE jobs SET status = 'queued', attempts = attempts - 1, again_at = NULL, locked_by = NULL, locked_until = NULL,
       updated_at = now()
WHERE id = $1 AND attempts = $2 AND status = 'running'
"""

PURGE_FINISHED = """
DELETE FROM jobs WHERE status IN ('done', 'failed') AND finished_at < now() - make_interval(days => $1)
"""

# One queued-or-running row per periodic kind: the dedupe key makes seeding idempotent across workers.
SEED_PERIODIC = """
INSERT INTO jobs (kind, dedupe_key, max_attempts) SELECT kind, 'periodic:' || kind, 12 FROM unnest($1::text[]) kind
ON CONFLICT (dedupe_key) WHERE status IN ('queued', 'running') DO NOTHING
"""
