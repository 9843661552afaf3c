-- Each bucket keeps its own window's length, so the clean-up drops a bucket only once its own window has passed:
-- it kept twice the login window (2 minutes) for all, and wiped hourly and daily limits (communities, invites,
-- photos) long before they ended. Rows from before: a day, the longest window in use.
ALTER TABLE rate_limits ADD COLUMN IF NOT EXISTS window_seconds integer NOT NULL DEFAULT 86400;
