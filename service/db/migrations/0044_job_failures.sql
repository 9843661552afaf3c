-- Failures in a row, apart from the attempt number that fences a job's finish: a periodic job's success clears
-- them, so failures spread over days no longer add up to `max_attempts` (the job failed for good) nor stretch
-- its backoff (service/jobs/worker.py). For a one-off job it is its attempts less one, as before.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS failures integer NOT NULL DEFAULT 0;
UPDATE jobs SET failures = greatest(attempts - CASE WHEN status = 'running' THEN 1 ELSE 0 END, 0);
