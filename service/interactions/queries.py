"""SQL of the interactions domain: recording, presence, roll-ups and metrics (rewards: reward_queries.py)."""

from service.core.speech import REPEATS_IN_WINDOW, ROLLED_UP_SPEECH_BY_MEMBER, valid_speech_by_member

# --- recording -----------------------------------------------------------------------------------

# A coalesced write's new events when their COPY met one written meanwhile (service/interactions/ingestion.py),
# as one JSON array of rows. A retried event hits the unique index and is skipped; the statement answers those,
# so each batch counts its own duplicates.
INSERT_CLIENT_EVENTS = """
WITH e AS MATERIALIZED (
    SELECT * FROM json_to_recordset($1::json) AS e (
        user_id bigint, community_id bigint, kind text, post_id bigint, target text, dwell_ms int,
        client_event_id text, occurred_at timestamptz
    )
), inserted AS (
    INSERT INTO interaction_events
        (community_id, user_id, kind, post_id, target, dwell_ms, client_event_id, occurred_at)
    SELECT community_id, user_id, kind, post_id, target, dwell_ms, client_event_id, occurred_at FROM e
    ON CONFLICT DO NOTHING
    RETURNING user_id, client_event_id, occurred_at
)
SELECT e.user_id, e.client_event_id, e.occurred_at FROM e
WHERE NOT EXISTS (
    SELECT FROM inserted i
    WHERE i.user_id = e.user_id AND i.client_event_id = e.client_event_id AND i.occurred_at = e.occurred_at
)
"""

# For the batches of one write: the active memberships among its members' and communities' (a superset of the
# pairs asked: the caller keeps those it asked) and its visible posts. One trip for the whole write; whether an
# event is stored already the unique index says when the events are written (ingestion._store).
VISIBLE_TARGETS_OF_MANY = """
SELECT
    ARRAY(SELECT user_id FROM memberships
          WHERE user_id = ANY($1::bigint[]) AND community_id = ANY($2::bigint[]) AND status = 'active'
          ORDER BY user_id, community_id) AS member_users,
    ARRAY(SELECT community_id FROM memberships
          WHERE user_id = ANY($1::bigint[]) AND community_id = ANY($2::bigint[]) AND status = 'active'
          ORDER BY user_id, community_id) AS member_communities,
    ARRAY(SELECT id FROM posts WHERE id = ANY($3::bigint[]) AND deleted_at IS NULL AND status = 'visible'
          ORDER BY id) AS post_ids,
    ARRAY(SELECT community_id FROM posts WHERE id = ANY($3::bigint[]) AND deleted_at IS NULL AND status = 'visible'
          ORDER BY id) AS post_communities
"""

EVENT_PARTITIONS = """
SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'interaction_events'::regclass ORDER BY 1
"""

# --- roll-ups ------------------------------------------------------------------------------------
# $1 community, $2 day (local date), $3 time zone. A local day is [day 00:00, next day 00:00) in $3.

CLEAR_DAY = """
WITH v AS (DELETE FROM rollup_views WHERE community_id = $1 AND day = $2),
     p AS (DELETE FROM rollup_presence WHERE community_id = $1 AND day = $2),
     c AS (DELETE FROM rollup_contributions WHERE community_id = $1 AND day = $2)
DELETE FROM rollup_days WHERE community_id = $1 AND day = $2
"""

ROLLUP_VIEWS = """
INSERT INTO rollup_views (community_id, day, user_id, target, post_id, views, effective_views)
SELECT $1, $2, user_id, target, min(post_id), count(*),
       -- a view of 3 s or more counts once per member, target and 30-minute slot of the clock
       count(DISTINCT floor(extract(epoch FROM occurred_at) / 1800)) FILTER (WHERE dwell_ms >= 3000)
FROM interaction_events
WHERE community_id = $1 AND occurred_at >= $3 AND occurred_at < $4 AND kind IN ('page_view', 'post_view')
GROUP BY user_id, target
"""

ROLLUP_PRESENCE = """
INSERT INTO rollup_presence (community_id, day, user_id, online_seconds)
SELECT $1, $2, user_id,
       sum(extract(epoch FROM least(last_seen_at, $4) - greatest(started_at, $3)))
FROM presence_sessions
WHERE community_id = $1 AND started_at < $4 AND last_seen_at >= $3
GROUP BY user_id
"""

# What others gave a member's posts (comments, likes; robots and self excluded) and the member's
# participation recorded by other domains (trial feedback, check-ins, attendance). Proposals and votes are not
# counted here: what stands of them is only known once their poll closes (POLL_PARTICIPATION). A post removed by
# moderation or refused by WeChat's check (`rejected`, for good) earns its author nothing, and so does such a comment
# (its event names it since migration 0054; an older one counts); when that happens after their days were rolled up,
# TOUCHED_DAYS rolls them up again. Deleted posts and comments still count (docs/metrics.md).
ROLLUP_CONTRIBUTIONS = """
INSERT INTO rollup_contributions (community_id, day, user_id, comments_received, likes_received, participation)
SELECT $1, $2, user_id, sum(comments), sum(likes), sum(participation)
FROM (
    SELECT p.author_id AS user_id, (e.kind = 'comment')::int AS comments, (e.kind = 'like')::int AS likes,
           0 AS participation
    FROM interaction_events e JOIN posts p ON p.id = e.post_id AND p.community_id = e.community_id
    WHERE e.community_id = $1 AND e.occurred_at >= $3 AND e.occurred_at < $4 AND e.kind IN ('comment', 'like')
      AND p.author_id IS NOT NULL AND p.author_id <> e.user_id AND p.status <> 'rejected'
      AND NOT EXISTS (
          SELECT FROM comments c WHERE c.id = e.comment_id AND c.community_id = e.community_id AND c.status = 'rejected'
      )
    UNION ALL
    SELECT user_id, 0, 0, 1 FROM interaction_events
    WHERE community_id = $1 AND occurred_at >= $3 AND occurred_at < $4
      AND kind IN ('feedback', 'check_in', 'attendance')
) AS given
GROUP BY user_id
"""


# Peak: sweep over session edges clipped to the day; at equal times a start counts before an end,
# so sessions that touch are overlapping (closed intervals).
ROLLUP_DAY = """
WITH clipped AS (
    SELECT greatest(started_at, $3) AS s, least(last_seen_at, $4) AS e
    FROM presence_sessions
    WHERE community_id = $1 AND started_at < $4 AND last_seen_at >= $3
), edges AS (
    SELECT s AS t, 1 AS delta FROM clipped
    UNION ALL
    SELECT e, -1 FROM clipped
), running AS (
    SELECT sum(delta) OVER (ORDER BY t, delta DESC ROWS UNBOUNDED PRECEDING) AS concurrent FROM edges
)
INSERT INTO rollup_days (community_id, day, peak_concurrent, new_members)
SELECT $1, $2,
       coalesce((SELECT max(concurrent) FROM running), 0),
       (SELECT count(*) FROM interaction_events
        WHERE community_id = $1 AND kind = 'join' AND occurred_at >= $3 AND occurred_at < $4)
"""

# The overlap is taken off outside the upsert: Citus computes no STABLE function (timestamptz - interval) in a
# RETURNING clause.
LOCK_WATERMARK = """
WITH state AS (
    INSERT INTO rollup_state (name, watermark) VALUES ('daily', 'epoch')
    ON CONFLICT (name) DO UPDATE SET name = excluded.name
    RETURNING watermark
)
SELECT watermark - $1::interval FROM state
"""

SET_WATERMARK = "UPDATE rollup_state SET watermark = $1 WHERE name = 'daily'"

# A changed stage remembers the one it left and when; an unchanged one only its fresh figures.
SET_STAGE = """
INSERT INTO community_stages AS s (community_id, stage, totals, window_from, window_to, activity_score)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (community_id) DO UPDATE
SET stage = excluded.stage, totals = excluded.totals, window_from = excluded.window_from,
    window_to = excluded.window_to, activity_score = excluded.activity_score, computed_at = excluded.computed_at,
    previous_stage = CASE WHEN s.stage <> excluded.stage THEN s.stage ELSE s.previous_stage END,
    changed_at = CASE WHEN s.stage <> excluded.stage THEN excluded.changed_at ELSE s.changed_at END
"""

STAGE = """
SELECT coalesce(s.stage, 'gather') AS stage, s.totals, s.window_from, s.window_to, s.computed_at, s.previous_stage,
       s.changed_at
FROM communities c LEFT JOIN community_stages s ON s.community_id = c.id WHERE c.id = $1
"""

# Days with something new since the watermark: events recorded or presence seen after it, the days of the
# comments and likes a post received when it was removed or refused since, and the day of a comment removed or
# refused since (a post's or comment's `updated_at` moves with its status).
TOUCHED_DAYS = """
SELECT DISTINCT community_id, (occurred_at AT TIME ZONE $2)::date AS day
FROM interaction_events WHERE recorded_at > $1
UNION
SELECT DISTINCT e.community_id, (e.occurred_at AT TIME ZONE $2)::date
FROM posts p JOIN interaction_events e ON e.post_id = p.id AND e.community_id = p.community_id
WHERE p.status = 'rejected' AND p.updated_at > $1 AND e.kind IN ('comment', 'like')
UNION
SELECT DISTINCT e.community_id, (e.occurred_at AT TIME ZONE $2)::date
FROM comments c JOIN interaction_events e ON e.comment_id = c.id AND e.community_id = c.community_id
WHERE c.status = 'rejected' AND c.updated_at > $1 AND e.kind = 'comment'
UNION
SELECT DISTINCT community_id, d::date
FROM presence_sessions,
     generate_series((started_at AT TIME ZONE $2)::date, (last_seen_at AT TIME ZONE $2)::date, interval '1 day') d
WHERE last_seen_at > $1 - interval '2 minutes'
"""

# The days a rebuild rolls up: from $2 (the first day whose events are all stored; NULL: every day) on.
ALL_DAYS = """
SELECT * FROM (
    SELECT DISTINCT community_id, (occurred_at AT TIME ZONE $1)::date AS day FROM interaction_events
    UNION
    SELECT DISTINCT community_id, d::date
    FROM presence_sessions,
         generate_series((started_at AT TIME ZONE $1)::date, (last_seen_at AT TIME ZONE $1)::date, interval '1 day') d
) days
WHERE $2::date IS NULL OR day >= $2
"""

# Retention (drop_expired_partitions) records from when every event is stored: the roll-ups of the days before are
# all that is left of them, and a rebuild keeps them. A rebuild holds roll-up writers off (readers read on) and the
# retention's drops (they lock the events' parent) until it commits, so it never reads a month dropped meanwhile.
EVENTS_KEPT_FROM = "SELECT watermark FROM rollup_state WHERE name = 'retention'"
KEEP_EVENTS_FROM = """
INSERT INTO rollup_state AS s (name, watermark) VALUES ('retention', $1)
ON CONFLICT (name) DO UPDATE SET watermark = greatest(s.watermark, excluded.watermark)
"""
LOCK_EVENTS = "LOCK TABLE interaction_events IN ACCESS SHARE MODE"
LOCK_ROLLUPS = "LOCK TABLE rollup_views, rollup_presence, rollup_contributions, rollup_days IN EXCLUSIVE MODE"
# The roll-ups from day $1 on (NULL: every day), table by table.
CLEAR_DAYS_FROM = (
    "DELETE FROM rollup_views WHERE $1::date IS NULL OR day >= $1",
    "DELETE FROM rollup_presence WHERE $1::date IS NULL OR day >= $1",
    "DELETE FROM rollup_contributions WHERE $1::date IS NULL OR day >= $1",
    "DELETE FROM rollup_days WHERE $1::date IS NULL OR day >= $1",
)

# --- metrics -------------------------------------------------------------------------------------
# $1 community, $2 window start, $3 window end (timestamptz), $4 time zone, $5 granularity.

# Speech: posts and comments by members (robots have no author). Valid: visible, at least 5 characters
# or an image (uploaded, or a URL stored before uploads), and the first of its author's identical texts (case
# and spacing aside) with as many images in the window. One row per period plus the total (period NULL).
# Read from the speech roll-up (core/speech.py, migration 0029) when it is kept in $4: per period and author, the
# basic-valid rows less the repeats. An author is an effective speaker of a period when something is left.
SPEECH_METRICS = f"""
WITH days AS (
    SELECT date_trunc($5, day)::date AS period, author_id,
           sum(posts + comments) AS written, sum(valid_posts) AS valid_posts, sum(valid_comments) AS valid_comments
    FROM speech_days
    WHERE community_id = $1 AND day >= ($2 AT TIME ZONE $4)::date AND day < ($3 AT TIME ZONE $4)::date
    GROUP BY 1, 2
), repeats AS (
    SELECT date_trunc($5, (created_at AT TIME ZONE $4)::date)::date AS period, author_id,
           count(*) FILTER (WHERE kind = 'post') AS posts, count(*) FILTER (WHERE kind = 'comment') AS comments
    FROM ({REPEATS_IN_WINDOW}) r
    GROUP BY 1, 2
), judged AS (
    SELECT period, author_id, h.valid_posts - coalesce(r.posts, 0) AS valid_posts,
           h.valid_comments - coalesce(r.comments, 0) AS valid_comments
    FROM days h LEFT JOIN repeats r USING (period, author_id)
    WHERE h.written > 0
)
SELECT period, count(DISTINCT author_id) AS speakers,
       count(DISTINCT author_id) FILTER (WHERE valid_posts + valid_comments > 0) AS effective_speakers,
       coalesce(sum(valid_posts), 0)::bigint AS valid_posts, coalesce(sum(valid_comments), 0)::bigint AS valid_comments
FROM judged
GROUP BY GROUPING SETS ((period), ())
"""  # noqa: S608

# The same from the posts and comments themselves, for a zone other than the roll-up's.
SPEECH_METRICS_EXACT = """
WITH speech AS (
    SELECT 'post' AS kind, author_id, created_at, coalesce(text, '') AS text,
           cardinality(image_urls) + cardinality(image_ids) AS images,
           status = 'visible' AND deleted_at IS NULL AS visible
    FROM posts
    WHERE community_id = $1 AND author_id IS NOT NULL AND created_at >= $2 AND created_at < $3
    UNION ALL
    SELECT 'comment', author_id, created_at, coalesce(text, ''), (image_id IS NOT NULL)::int,
           status = 'visible' AND deleted_at IS NULL
    FROM comments
    WHERE community_id = $1 AND author_id IS NOT NULL AND created_at >= $2 AND created_at < $3
), judged AS (
    SELECT *, date_trunc($5, (created_at AT TIME ZONE $4)::date)::date AS period,
           visible AND (char_length(btrim(text)) >= 5 OR images > 0)
           AND row_number() OVER (
               PARTITION BY author_id, regexp_replace(lower(btrim(text)), '\\s+', ' ', 'g'), images,
                            visible AND (char_length(btrim(text)) >= 5 OR images > 0)
               ORDER BY created_at, kind
           ) = 1 AS valid
    FROM speech
)
SELECT period,
       count(DISTINCT author_id) AS speakers,
       count(DISTINCT author_id) FILTER (WHERE valid) AS effective_speakers,
       count(*) FILTER (WHERE valid AND kind = 'post') AS valid_posts,
       count(*) FILTER (WHERE valid AND kind = 'comment') AS valid_comments
FROM judged
GROUP BY GROUPING SETS ((period), ())
"""

# A member's own valid speech in the window, for contribution scores. $1 community, $2..$3 window (local midnights),
# $4 the zone: the roll-up's (speech_zone); in another zone, the exact one ($1..$3) reads the rows.
VALID_SPEECH_BY_MEMBER = ROLLED_UP_SPEECH_BY_MEMBER
VALID_SPEECH_BY_MEMBER_EXACT = valid_speech_by_member()

# The zone the speech roll-up's days are in: it answers only windows of local days in that zone.
SPEECH_ZONE = "SELECT zone FROM speech_zone"

# Rebuilt from the rows in another zone ($1), writers held off meanwhile (SHARE conflicts with every write).
LOCK_SPEECH = "LOCK TABLE posts, comments IN SHARE MODE"
# The zone first, then the rebuild reading it (Citus calls no volatile function in an UPDATE's RETURNING).
SET_SPEECH_ZONE = "UPDATE speech_zone SET zone = $1"
REBUILD_SPEECH = "SELECT speech_rebuild()"
# What a rebuild reads.
ANALYZE_SOURCES = "ANALYZE interaction_events, presence_sessions, posts, comments"

# Roll-up reads, one row per period plus the total (period NULL). $1 community, $2 first day,
# $3 last day (inclusive), $4 granularity ('day' | 'week' | 'month').
VIEW_METRICS = """
SELECT date_trunc($4, day)::date AS period, sum(views) AS page_views, sum(effective_views) AS effective_page_views,
       count(DISTINCT user_id) FILTER (WHERE post_id IS NOT NULL) AS members_viewing,
       count(DISTINCT (user_id, post_id)) FILTER (WHERE post_id IS NOT NULL) AS member_posts_viewed
FROM rollup_views WHERE community_id = $1 AND day BETWEEN $2 AND $3
GROUP BY GROUPING SETS ((1), ())
"""

PRESENCE_METRICS = """
SELECT date_trunc($4, day)::date AS period, count(DISTINCT user_id) AS members_online,
       sum(online_seconds) AS online_seconds
FROM rollup_presence WHERE community_id = $1 AND day BETWEEN $2 AND $3
GROUP BY GROUPING SETS ((1), ())
"""

DAY_METRICS = """
SELECT date_trunc($4, day)::date AS period, max(peak_concurrent) AS peak_concurrent_users,
       sum(new_members) AS new_members, max(rolled_up_at) AS rolled_up_at
FROM rollup_days WHERE community_id = $1 AND day BETWEEN $2 AND $3
GROUP BY GROUPING SETS ((1), ())
"""

CONTRIBUTIONS = """
SELECT user_id, sum(comments_received) AS comments_received, sum(likes_received) AS likes_received,
       sum(participation) AS participation
FROM rollup_contributions WHERE community_id = $1 AND day BETWEEN $2 AND $3
GROUP BY user_id
"""

# Poll participation (docs/metrics.md), from the polls' own rows rather than the `proposal` and `vote` events: counted
# on the day its poll closed ($2..$3, local midnights), as it stands then and for good (a closed poll never changes).
# Per member: each proposal visible at the close or merged into another (a duplicate is still the member's idea; a
# hidden or never-approved one counts nothing) and each vote held at the close (withdrawn ones count nothing, a vote a
# merge carried counts once, on its target). So a poll earns a member at most its proposals and votes per member,
# however often votes changed. Read through the community's polls (polls_of_community, then each poll's rows).
POLL_PARTICIPATION = """
WITH closed AS (
    SELECT id FROM polls WHERE community_id = $1 AND closed_at >= $2 AND closed_at < $3
)
SELECT user_id, count(*) AS participation
FROM (
    SELECT p.proposer_id AS user_id FROM poll_proposals p JOIN closed ON closed.id = p.poll_id
    WHERE p.community_id = $1 AND p.status IN ('visible', 'merged')
    UNION ALL
    SELECT v.user_id FROM poll_votes v JOIN closed ON closed.id = v.poll_id
    WHERE v.community_id = $1 AND v.status = 'active'
) AS standing
GROUP BY user_id
"""

# Referrals credited in the window (communities' referrals table: one per referred member, at first admission),
# counted only while the referred member is still in: a refunded or departed entry earns nothing.
REFERRALS_BY_MEMBER = """
SELECT r.referrer_id AS user_id, count(*) AS referrals
FROM referrals r
JOIN memberships m ON m.community_id = r.community_id AND m.user_id = r.referred_id AND m.status = 'active'
WHERE r.community_id = $1 AND r.created_at >= $2 AND r.created_at < $3
GROUP BY r.referrer_id
"""

ACTIVE_MEMBERS = "SELECT user_id FROM memberships WHERE community_id = $1 AND status = 'active'"

MEMBER_NAMES = "SELECT id, nickname, avatar_url FROM users WHERE id = ANY($1::bigint[])"
