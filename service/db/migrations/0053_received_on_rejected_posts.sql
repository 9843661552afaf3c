-- Comments and likes received on a post moderation removed or WeChat's check refused (`rejected`, for good) no longer
-- count in its author's contribution (docs/metrics.md). The roll-up skips them, and rolls a post's days up again when
-- it is rejected after them: the rejected posts by when that happened (`updated_at`), and the comment and like events
-- of one post. Take them out of the days already rolled up, so the stored figures and a rebuild's agree (days in the
-- roll-up's zone, speech_zone, as in 0049; a day not all rolled up yet is recomputed whole by the next run anyway).
CREATE INDEX posts_rejected ON posts (updated_at) WHERE status = 'rejected';
CREATE INDEX interaction_events_post_received ON interaction_events (post_id) WHERE kind IN ('comment', 'like');

UPDATE rollup_contributions r
SET comments_received = greatest(r.comments_received - e.comments, 0),
    likes_received = greatest(r.likes_received - e.likes, 0)
FROM (
    SELECT i.community_id, (i.occurred_at AT TIME ZONE z.zone)::date AS day, p.author_id AS user_id,
           count(*) FILTER (WHERE i.kind = 'comment')::int AS comments,
           count(*) FILTER (WHERE i.kind = 'like')::int AS likes
    FROM posts p
    JOIN interaction_events i ON i.post_id = p.id AND i.community_id = p.community_id
    CROSS JOIN speech_zone z
    WHERE p.status = 'rejected' AND i.kind IN ('comment', 'like')
      AND p.author_id IS NOT NULL AND p.author_id <> i.user_id
    GROUP BY 1, 2, 3
) AS e
WHERE r.community_id = e.community_id AND r.day = e.day AND r.user_id = e.user_id;
