-- WeChat's `wxa_media_check` push can come before the worker has stored the trace_id media_check_async answered
-- (the push races that insert). Such a verdict waits here for its submission instead of being dropped, which left
-- the image pending until the re-submission (30 minutes). The media clean-up forgets any never claimed.
CREATE TABLE media_early_verdicts (
    trace_id     text PRIMARY KEY,
    suggest      text CHECK (suggest IN ('pass', 'review', 'risky')),  -- NULL: WeChat could not check the image
    label        integer,
    received_at  timestamptz NOT NULL DEFAULT now()
);
