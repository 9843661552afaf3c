-- The entry orders' money (0014) read through the community: every join names community_id and the refunds in
-- flight are summed per (community, order) instead of in a correlated subquery, so on Citus the view's rows for
-- one community come from that community's shard (the earnings and a payout ask by community). An entry order's
-- community_id is its subject (0013): the same rows, the same columns on one PostgreSQL.
CREATE OR REPLACE VIEW entry_order_money AS
SELECT o.id AS order_id,
       o.community_id,
       o.status,
       o.paid_fen,
       o.refunded_fen,
       o.paid_at,
       o.payout_id,
       p.status AS payout_status,
       coalesce(refunding.fen, 0) AS refunding_fen,
       o.paid_at + make_interval(hours => coalesce(e.refund_window_hours, c.refund_window_hours))
           AS refundable_until,
       (o.status = 'paid' AND o.payout_id IS NULL AND coalesce(refunding.fen, 0) = 0
        AND o.paid_at + make_interval(hours => coalesce(e.refund_window_hours, c.refund_window_hours)) <= now())
           AS withdrawable
FROM orders o
JOIN communities c ON c.id = o.community_id
LEFT JOIN community_entries e ON e.community_id = o.community_id AND e.order_id = o.id
LEFT JOIN payouts p ON p.community_id = o.community_id AND p.id = o.payout_id
-- The refunds in flight, per order.
LEFT JOIN (
    SELECT r.community_id, r.order_id, sum(r.amount_fen) AS fen FROM refunds r
    WHERE r.status IN ('pending', 'processing', 'abnormal')
    GROUP BY r.community_id, r.order_id
) refunding ON refunding.community_id = o.community_id AND refunding.order_id = o.id
WHERE o.purpose = 'community_entry' AND o.paid_fen > 0;

-- The one re-check per post, the one open case per target and the one sign-up per member of a meetup, keyed with
-- their community too (last, so a lookup by post, target or meetup still uses them): a post, a target or a meetup
-- belongs to one community, so the same rows are unique. On Citus a distributed table's unique keys must hold
-- community_id, and an ON CONFLICT ... DO UPDATE target must name the key's columns: QUEUE_POST_CHECK, OPEN_CASE,
-- COLLECT_REVIEWS and UPSERT_SIGNUP now name community_id, the same on both.
DROP INDEX content_checks_post;
CREATE UNIQUE INDEX content_checks_post ON content_checks (post_id, community_id) WHERE post_id IS NOT NULL;
DROP INDEX moderation_cases_one_open;
CREATE UNIQUE INDEX moderation_cases_one_open ON moderation_cases (target_kind, target_id, community_id)
    WHERE status = 'open';
ALTER TABLE meetup_signups DROP CONSTRAINT meetup_signups_meetup_id_user_id_key,
    ADD CONSTRAINT meetup_signups_meetup_id_user_id_key UNIQUE (meetup_id, user_id, community_id);

-- The speech roll-up's rebuild (0029) without its temporary table: on Citus an UPDATE of a distributed table
-- cannot join a table of the coordinator's session, so each post and comment is matched with its key again
-- through the community (speech_key is immutable). The zone is read once, first: the rebuild follows the zone's
-- update in its transaction, and Citus reads a reference table modified there over one connection only. The same
-- rows counted and flagged on one PostgreSQL.
CREATE OR REPLACE FUNCTION speech_rebuild() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    z text := (SELECT zone FROM speech_zone);
BEGIN
TRUNCATE speech_days, speech_keys;
UPDATE posts SET speech_repeat = false WHERE speech_repeat;
UPDATE comments SET speech_repeat = false WHERE speech_repeat;

INSERT INTO speech_days (community_id, day, author_id, posts, comments, valid_posts, valid_comments)
SELECT community_id, (created_at AT TIME ZONE z)::date, author_id, sum(post),
       sum(1 - post), sum(post * valid), sum((1 - post) * valid)
FROM (
    SELECT community_id, author_id, created_at, 1 AS post,
           (status = 'visible' AND deleted_at IS NULL
            AND (char_length(btrim(text)) >= 5 OR cardinality(image_urls) + cardinality(image_ids) > 0))::int AS valid
    FROM posts WHERE author_id IS NOT NULL
    UNION ALL
    SELECT community_id, author_id, created_at, 0,
           (status = 'visible' AND deleted_at IS NULL AND (char_length(btrim(text)) >= 5 OR image_id IS NOT NULL))::int
    FROM comments WHERE author_id IS NOT NULL
) speech
GROUP BY 1, 2, 3;

INSERT INTO speech_keys (community_id, author_id, key, row_count, first_kind, first_id)
SELECT DISTINCT ON (community_id, author_id, key) community_id, author_id, key,
       count(*) OVER (PARTITION BY community_id, author_id, key), kind, id
FROM (
    SELECT community_id, author_id, speech_key(text, images) AS key, kind, id
    FROM (
        SELECT community_id, author_id, text, cardinality(image_urls) + cardinality(image_ids) AS images,
               'post' AS kind, id
        FROM posts WHERE author_id IS NOT NULL
        UNION ALL
        SELECT community_id, author_id, text, (image_id IS NOT NULL)::int, 'comment', id
        FROM comments WHERE author_id IS NOT NULL
    ) speech
    WHERE char_length(btrim(text)) >= 5 OR images > 0
) keyed
ORDER BY community_id, author_id, key, kind, id;

UPDATE posts p SET speech_repeat = true
FROM speech_keys k
WHERE k.community_id = p.community_id AND k.author_id = p.author_id
  AND k.key = speech_key(p.text, cardinality(p.image_urls) + cardinality(p.image_ids)) AND k.row_count >= 2
  AND (char_length(btrim(p.text)) >= 5 OR cardinality(p.image_urls) + cardinality(p.image_ids) > 0);
UPDATE comments c SET speech_repeat = true
FROM speech_keys k
WHERE k.community_id = c.community_id AND k.author_id = c.author_id
  AND k.key = speech_key(c.text, (c.image_id IS NOT NULL)::int) AND k.row_count >= 2
  AND (char_length(btrim(c.text)) >= 5 OR c.image_id IS NOT NULL);
END $$;
