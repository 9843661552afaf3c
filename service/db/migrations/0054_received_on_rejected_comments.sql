-- A comment moderation removed or WeChat's check refused (`rejected`, for good) no longer counts as received by its
-- post's author (docs/metrics.md). Its event names it from now on (`comment_id`: a nullable column costs the
-- partitioned table nothing; events recorded before keep NULL and count as before, the table being append-only). The
-- roll-up skips the events of rejected comments, and rolls a comment's day up again when it is rejected after it:
-- the rejected comments by when that happened (`updated_at`), and the event of one comment.
ALTER TABLE interaction_events ADD COLUMN comment_id bigint;
CREATE INDEX interaction_events_comment ON interaction_events (comment_id) WHERE comment_id IS NOT NULL;
CREATE INDEX comments_rejected ON comments (updated_at) WHERE status = 'rejected';
