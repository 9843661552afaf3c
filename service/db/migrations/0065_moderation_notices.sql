-- The outcome of a decided case is sent to each of its people on their own (service/moderation/jobs.py): claimed
-- ('sending') just before it goes to WeChat, so no two workers send it, and released when WeChat was unavailable,
-- so the retried job sends it then; null: not sent yet. `moderation_cases.notified_at` now marks the job's end,
-- every message sent or given up (a case marked before this migration was told as it was then).
ALTER TABLE moderation_cases
    ADD COLUMN author_notice text CHECK (author_notice IN ('sending', 'sent', 'no_consent', 'failed'));
ALTER TABLE reports
    ADD COLUMN notice text CHECK (notice IN ('sending', 'sent', 'no_consent', 'failed'));
