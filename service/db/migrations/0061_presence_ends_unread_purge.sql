-- Presence ends with the membership (docs/metrics.md): leaving or being removed ends the member's open session in the
-- community at once, so they no longer count as online there, and coming back starts a new session rather than
-- stretching the old one over the time they were out. Constant default: no table rewrite.
ALTER TABLE presence_sessions ADD COLUMN ended boolean NOT NULL DEFAULT false;

-- Unread inbox items are purged too, after INBOX_UNREAD_KEEP_DAYS (docs/inbox.md): the hourly purge finds them here.
CREATE INDEX inbox_items_unread_age ON inbox_items (created_at) WHERE read_at IS NULL;
