-- A queued notification whose comment was deleted, refused or hidden, or whose recipient left, before the job
-- sent it: withdrawn, never sent (service/feed/jobs.py).
ALTER TABLE feed_notifications DROP CONSTRAINT IF EXISTS feed_notifications_status_check;
ALTER TABLE feed_notifications ADD CONSTRAINT feed_notifications_status_check
    CHECK (status IN ('queued', 'sent', 'no_consent', 'muted', 'failed', 'withdrawn'));
