-- The feed's page cache asks, for every reader, whether they have a pending post in the community (only
-- they see it): a small index of pending posts answers without reading their other posts.
CREATE INDEX posts_pending_by_author ON posts (community_id, author_id) WHERE status = 'pending' AND deleted_at IS NULL;
