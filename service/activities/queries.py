"""The SQL of theme activities and check-ins: $n parameters only."""

from __future__ import annotations

from service.core.apps import app_active
from service.core.media import IMAGES_JSON

_IMAGES = IMAGES_JSON.format(ids="p.image_ids") + "::text"  # a check-in's photos, URLs as placeholders

COMMUNITY_TIME_ZONE = "SELECT timezone FROM communities WHERE id = $1"

SET_COMMUNITY_TIME_ZONE = "UPDATE communities SET timezone = $2, updated_at = now() WHERE id = $1"

INSERT_ACTIVITY = """
INSERT INTO activities (community_id, created_by, title, prompt, recurrence, weekdays, dates, starts_on, ends_on,
                        window_start, window_end, reward_points)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING id
"""

# An activity's status as every reader sees it (`a` the activity, `c` its community): `ended` once an admin ended it
# (the stored status) or once its schedule ran out: no day of it is left from today on, today being the local day in
# the community's time zone. The days looked at are its dates, or the week from the first day left (a weekly
# schedule's weekdays all fall in it): the rule of core/recurrence.py has_days_after. Computed where it is read, not
# written by a job, so it is never an hour late and `?status=` filters (and pages) on what the items show.
STATUS = """CASE WHEN a.status = 'ended' OR NOT EXISTS (
    SELECT FROM (SELECT greatest(a.starts_on, (now() AT TIME ZONE c.timezone)::date) AS first) f
    CROSS JOIN LATERAL (SELECT unnest(a.dates) WHERE a.recurrence = 'dates'
                        UNION ALL SELECT f.first + n FROM generate_series(0, 6) n WHERE a.recurrence <> 'dates') d(day)
    WHERE d.day >= f.first AND (a.ends_on IS NULL OR d.day <= a.ends_on)
      AND (a.recurrence <> 'weekly' OR extract(isodow FROM d.day)::smallint = ANY (a.weekdays))
) THEN 'ended' ELSE 'active' END"""

_COLUMNS = f"""a.id, a.community_id, a.title, a.prompt, a.recurrence, a.weekdays, a.dates, a.starts_on, a.ends_on,
       a.window_start, a.window_end, a.reward_points, {STATUS} AS status, a.generated_until, a.created_at, c.timezone"""

ACTIVITY = f"""
SELECT {_COLUMNS}
FROM activities a JOIN communities c ON c.id = a.community_id WHERE a.id = $1
"""  # noqa: S608 - a constant expression

# $1 the community, $2 the activity: a row lock Citus takes on the community's shard (it takes none by id).
LOCK_ACTIVITY = f"""
SELECT {_COLUMNS}
FROM activities a JOIN communities c ON c.id = a.community_id WHERE a.community_id = $1 AND a.id = $2
FOR UPDATE OF a
"""  # noqa: S608 - a constant expression

UPDATE_ACTIVITY = """
UPDATE activities SET title = $2, prompt = $3, reward_points = $4, window_start = $5, window_end = $6,
       weekdays = $7, dates = $8, ends_on = $9, updated_at = now()
WHERE id = $1
"""

END_ACTIVITY = "UPDATE activities SET status = 'ended', updated_at = now() WHERE id = $1"

SET_GENERATED_UNTIL = "UPDATE activities SET generated_until = $2 WHERE id = $1"

# Active activities whose occurrences do not reach the horizon yet, in communities where the app is on (one whose
# schedule ran out is ended: left out, it never fills the batch). (The app's check is SQL function
# community_app_active's body: Citus runs no such function over a distributed table called from a statement.)
TO_GENERATE = f"""
SELECT {_COLUMNS}
FROM activities a JOIN communities c ON c.id = a.community_id
WHERE {STATUS} = 'active' AND (a.generated_until IS NULL OR a.generated_until < $1::date)
  AND (a.ends_on IS NULL OR a.generated_until IS NULL OR a.generated_until < a.ends_on)
  AND {app_active("c.id", "'activities'")}
ORDER BY a.id
LIMIT $2
"""  # noqa: S608 - a constant expression

INSERT_OCCURRENCES = """
INSERT INTO activity_occurrences (activity_id, community_id, local_date, opens_at, closes_at)
SELECT $1, $2, d, o, cl FROM unnest($3::date[], $4::timestamptz[], $5::timestamptz[]) AS w(d, o, cl)
ON CONFLICT DO NOTHING  -- once per activity and day (no target: Citus widens that key)
"""

# Occurrences not open yet: dropped when the schedule or the time zone changes, then generated again.
DELETE_UNOPENED = """
DELETE FROM activity_occurrences WHERE activity_id = $1 AND opens_at > $2 AND announced_at IS NULL
"""

ACTIVITIES_OF_COMMUNITY = "SELECT id FROM activities WHERE community_id = $1 AND status = 'active'"

# Occurrences that opened and were not announced: found across communities without a lock, then each locked on
# its community's shard with its activity (skipped if another worker holds it) so workers never double-post. One
# still open where the app is off is not due (it waits for the app, or for its close): the oldest first and a batch
# at a time, enough of them would hold back every other community's announcements.
DUE_ANNOUNCEMENTS = f"""
SELECT o.community_id, o.id FROM activity_occurrences o
WHERE o.announced_at IS NULL AND o.opens_at <= $1 AND ($2::bigint IS NULL OR o.activity_id = $2)
  AND (o.closes_at <= $1 OR {app_active("o.community_id", "'activities'")})
ORDER BY o.opens_at
LIMIT $3
"""  # noqa: S608 - a constant expression

LOCK_ANNOUNCEMENT = f"""
SELECT o.id, o.activity_id, o.community_id, o.local_date, o.opens_at, o.closes_at,
       a.title, a.prompt, a.window_start, a.window_end, a.status,
       {app_active("$1", "'activities'")} AS app_active
FROM activity_occurrences o JOIN activities a ON a.id = o.activity_id AND a.community_id = o.community_id
WHERE o.community_id = $1 AND o.id = $2 AND o.announced_at IS NULL
FOR UPDATE OF o SKIP LOCKED
"""  # noqa: S608 - a constant expression

INSERT_ROBOT_POST = "INSERT INTO posts (community_id, robot, kind, text) VALUES ($1, $2, $3, $4) RETURNING id"

MARK_ANNOUNCED = "UPDATE activity_occurrences SET post_id = $2, announced_at = $3 WHERE id = $1"

OCCURRENCE = """
SELECT o.id, o.local_date, o.opens_at, o.closes_at, o.post_id,
       (SELECT count(*) FROM check_ins ci
        WHERE ci.occurrence_id = o.id AND ci.community_id = o.community_id AND ci.voided_at IS NULL)::int
           AS check_in_count, o.activity_id
FROM activity_occurrences o WHERE o.id = $1
"""

OPEN_OCCURRENCE = """
SELECT o.id, o.local_date, o.opens_at, o.closes_at, o.post_id,
       (SELECT count(*) FROM check_ins ci
        WHERE ci.occurrence_id = o.id AND ci.community_id = o.community_id AND ci.voided_at IS NULL)::int
           AS check_in_count
FROM activity_occurrences o
WHERE o.activity_id = $1 AND o.opens_at <= $2 AND o.closes_at > $2
ORDER BY o.opens_at DESC LIMIT 1
"""

NEXT_OCCURRENCE = """
SELECT o.id, o.local_date, o.opens_at, o.closes_at, o.post_id,
       (SELECT count(*) FROM check_ins ci
        WHERE ci.occurrence_id = o.id AND ci.community_id = o.community_id AND ci.voided_at IS NULL)::int
           AS check_in_count
FROM activity_occurrences o
WHERE o.activity_id = $1 AND o.opens_at > $2 ORDER BY o.opens_at LIMIT 1
"""

# The two latest occurrences that have opened by $2: the latest and the one before it (for current streaks).
LATEST_OPENED = """
SELECT id, closes_at FROM activity_occurrences WHERE activity_id = $1 AND opens_at <= $2
ORDER BY opens_at DESC LIMIT 2
"""

OCCURRENCES = """
SELECT o.id, o.local_date, o.opens_at, o.closes_at, o.post_id,
       (SELECT count(*) FROM check_ins ci
        WHERE ci.occurrence_id = o.id AND ci.community_id = o.community_id AND ci.voided_at IS NULL)::int
           AS check_in_count
FROM activity_occurrences o
WHERE o.activity_id = $1 AND ($2::timestamptz IS NULL OR (o.opens_at, o.id) < ($2, $3))
  AND o.opens_at <= $4
ORDER BY o.opens_at DESC, o.id DESC
LIMIT $5
"""

# The status filter is on the computed status: the cursor is the id, so a page never depends on it.
ACTIVITIES = f"""
SELECT a.id::text AS id, a.title, a.recurrence, a.window_start, a.window_end, a.reward_points, {STATUS} AS status,
       a.created_at, a.id AS sort_id,
       (SELECT min(o.opens_at) FROM activity_occurrences o
         WHERE o.activity_id = a.id AND o.community_id = a.community_id AND o.closes_at > now())
           AS next_opens_at
FROM activities a JOIN communities c ON c.id = a.community_id
WHERE a.community_id = $1 AND ($2::text IS NULL OR {STATUS} = $2) AND ($3::bigint IS NULL OR a.id < $3)
ORDER BY a.id DESC
LIMIT $4
"""  # noqa: S608 - a constant expression

# A void check-in (its post deleted or rejected, migration 0046) leaves the occurrence open to a new one.
HAS_CHECKED_IN = """
SELECT EXISTS (SELECT 1 FROM check_ins WHERE occurrence_id = $1 AND user_id = $2 AND voided_at IS NULL)
"""

# Whether member $3 made a check-in into occurrence $2 before check-in $4 (a void one: its post went).
CHECKED_IN_BEFORE = """
SELECT EXISTS (SELECT FROM check_ins WHERE community_id = $1 AND occurrence_id = $2 AND user_id = $3 AND id <> $4)
"""

# $1 community, $2 activity, $3 member: their counted check-ins in the activity, locked in id order before a new
# one reads the previous streak, as the trigger that voids one locks them (migration 0046): the later of the two
# sees what the other wrote.
LOCK_MEMBER_CHECK_INS = """
SELECT id FROM check_ins
WHERE community_id = $1 AND activity_id = $2 AND user_id = $3 AND voided_at IS NULL
ORDER BY id FOR UPDATE
"""

INSERT_MEMBER_POST = """
INSERT INTO posts (community_id, author_id, kind, text, status, image_ids)
VALUES ($1, $2, 'check_in', $3, $4, $5)
RETURNING id
"""

# The streak continues the member's counted check-in at the occurrence just before this one ($7 = its opens_at).
INSERT_CHECK_IN = """
INSERT INTO check_ins (occurrence_id, activity_id, community_id, user_id, post_id, points, created_at, streak)
SELECT $1, $2, $3, $4, $5, $6, $8, 1 + coalesce((
    SELECT prev.streak FROM check_ins prev
    WHERE prev.community_id = $3 AND prev.user_id = $4 AND prev.voided_at IS NULL AND prev.occurrence_id = (
        SELECT o.id FROM activity_occurrences o WHERE o.community_id = $3 AND o.activity_id = $2 AND o.opens_at < $7
        ORDER BY o.opens_at DESC LIMIT 1)
), 0)
ON CONFLICT DO NOTHING  -- one counted check-in per occurrence and member (check_ins_once)
RETURNING id
"""

CHECK_IN = (
    """
SELECT ci.id::text AS id, ci.activity_id::text AS activity_id, ci.occurrence_id::text AS occurrence_id,
       o.local_date, ci.user_id::text AS user_id, u.nickname, u.avatar_url, ci.post_id::text AS post_id, p.text,
       p.image_urls, p.status AS post_status, ci.points, ci.streak, ci.voided_at IS NULL AS counted,
       ci.created_at, """
    + _IMAGES
    + """ AS images
FROM check_ins ci JOIN activity_occurrences o ON o.id = ci.occurrence_id AND o.community_id = ci.community_id
JOIN users u ON u.id = ci.user_id
JOIN posts p ON p.id = ci.post_id AND p.community_id = ci.community_id
WHERE ci.id = $1
"""
)

# Newest first; others' check-ins only when their post is visible and not deleted; mine always (a void one with
# `counted` false: its post was deleted or rejected).
CHECK_INS = (
    """
SELECT ci.id::text AS id, ci.activity_id::text AS activity_id, ci.occurrence_id::text AS occurrence_id,
       o.local_date, ci.user_id::text AS user_id, u.nickname, u.avatar_url, ci.post_id::text AS post_id, p.text,
       p.image_urls, p.status AS post_status, ci.points, ci.streak, ci.voided_at IS NULL AS counted,
       ci.created_at, ci.id AS sort_id,
       """
    + _IMAGES
    + """ AS images
FROM check_ins ci JOIN activity_occurrences o ON o.id = ci.occurrence_id AND o.community_id = ci.community_id
JOIN users u ON u.id = ci.user_id
JOIN posts p ON p.id = ci.post_id AND p.community_id = ci.community_id
WHERE ci.activity_id = $1 AND ($2::bigint IS NULL OR ci.occurrence_id = $2)
  AND ($3::bigint IS NULL OR ci.user_id = $3)
  AND ((p.status = 'visible' AND p.deleted_at IS NULL) OR ci.user_id = $4)
  AND ($5::bigint IS NULL OR ci.id < $5)
ORDER BY ci.id DESC
LIMIT $6
"""
)

# Per member, over counted check-ins (not void): check-ins, points, longest streak, and the current streak: the
# streak at the latest opened occurrence ($2), else, while that one is still open ($4), the streak at the one before
# it ($3).
STANDINGS = """
SELECT ci.user_id, count(*)::int AS check_ins, coalesce(sum(ci.points), 0)::int AS points,
       max(ci.streak) AS longest_streak,
       coalesce(max(ci.streak) FILTER (WHERE ci.occurrence_id = $2),
                CASE WHEN $4 THEN max(ci.streak) FILTER (WHERE ci.occurrence_id = $3) END, 0) AS current_streak
FROM check_ins ci
WHERE ci.activity_id = $1 AND ($5::bigint IS NULL OR ci.user_id = $5) AND ci.voided_at IS NULL
GROUP BY ci.user_id
"""

# One page of the ranking: ranks are taken over every member, then the page starts after the cursor's ($5-$8: check-ins,
# longest streak, current streak, user id) in the one total order (the three down, then lower user id first), so a tie
# a page boundary cuts is neither repeated nor skipped. The cursor's numbers compare as bigint, never negated: a forged
# one (decode_cursor bounds them to bigint) answers an empty page, not an int overflow.
RANKING = """
SELECT r.* FROM (
    SELECT rank() OVER (ORDER BY s.check_ins DESC, s.longest_streak DESC, s.current_streak DESC)::int AS rank,
           s.user_id::text AS user_id, s.user_id AS sort_user_id, u.nickname, u.avatar_url, s.check_ins, s.points,
           s.current_streak, s.longest_streak
    FROM (
        SELECT ci.user_id, count(*)::int AS check_ins, coalesce(sum(ci.points), 0)::int AS points,
               max(ci.streak) AS longest_streak,
               coalesce(max(ci.streak) FILTER (WHERE ci.occurrence_id = $2),
                        CASE WHEN $4 THEN max(ci.streak) FILTER (WHERE ci.occurrence_id = $3) END, 0) AS current_streak
        FROM check_ins ci
        WHERE ci.activity_id = $1 AND ci.voided_at IS NULL
        GROUP BY ci.user_id
    ) s JOIN users u ON u.id = s.user_id
) r
WHERE $8::bigint IS NULL  -- the first page
   OR r.check_ins < $5::bigint
   OR (r.check_ins = $5::bigint AND (r.longest_streak < $6::bigint
       OR (r.longest_streak = $6::bigint AND (r.current_streak < $7::bigint
           OR (r.current_streak = $7::bigint AND r.sort_user_id > $8::bigint)))))
ORDER BY r.rank, r.sort_user_id
LIMIT $9
"""
