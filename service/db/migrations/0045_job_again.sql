-- Work asked for under a dedupe key while its job is running: the run may have read its state before that work
-- was committed (a poll's expiry job, a files clean-up), so the job goes again at `again_at` instead of finishing
-- (service/jobs/queries.py). It was dropped: the key was taken.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS again_at timestamptz;
