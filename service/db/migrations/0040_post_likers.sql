-- Every member who ever liked a post, kept when the like is taken back: a post's `like` interaction is recorded the
-- first time a member likes it only, so liking, unliking and liking again does not add to the author's likes
-- received (docs/metrics.md; it once counted each click).
CREATE TABLE post_likers (
    post_id       bigint NOT NULL REFERENCES posts (id),
    user_id       bigint NOT NULL REFERENCES users (id),
    community_id  bigint NOT NULL,
    PRIMARY KEY (post_id, user_id)
);

-- Who likes a post now, and who liked one before (their `like` was recorded).
INSERT INTO post_likers (post_id, user_id, community_id)
SELECT post_id, user_id, community_id FROM post_likes
UNION
SELECT e.post_id, e.user_id, p.community_id
FROM interaction_events e JOIN posts p ON p.id = e.post_id AND p.community_id = e.community_id
WHERE e.kind = 'like' AND e.post_id IS NOT NULL;
