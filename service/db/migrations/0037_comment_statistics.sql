-- A comment's post decides its community. Without telling the planner, it multiplies the two conditions of the
-- feed's first comments (community_id = $1 AND post_id = p.id) as if independent: with the community a known value
-- (a custom plan) the estimate differs from the generic plan's, which then looks costlier, and PostgreSQL plans the
-- feed's page afresh on every read (1.4 ms of planning for 1 ms of work where a few communities hold most posts).
-- With the dependency both plans estimate alike and the page is planned once per connection.
CREATE STATISTICS IF NOT EXISTS comments_post_community (dependencies) ON community_id, post_id FROM comments;
ANALYZE comments;
