"""The SQL of meetups: $n parameters only. Locks are taken in one order: order, meetup, sign-up."""

from __future__ import annotations

from service.core.access import role_of
from service.core.apps import app_active

INSERT_MEETUP = """
INSERT INTO meetups (community_id, created_by, title, description, mode, place, latitude, longitude, starts_at,
                     ends_at, signup_deadline, capacity, waitlist, fee_fen, venue_code, promotion_hold)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING id
"""

MEETUP = """
SELECT m.*, (SELECT count(*) FROM meetup_signups s
            WHERE s.meetup_id = m.id AND s.community_id = m.community_id AND s.status = 'waitlisted')::int
           AS waitlist_count
FROM meetups m WHERE m.id = $1
"""

# Row locks name the community ($1), so Citus takes them on its shard (it takes none by id alone).
LOCK_MEETUP = "SELECT * FROM meetups WHERE community_id = $1 AND id = $2 FOR UPDATE"

UPDATE_MEETUP = """
UPDATE meetups SET title = $2, description = $3, place = $4, latitude = $5, longitude = $6, capacity = $7,
       waitlist = $8, signup_deadline = $9, updated_at = now()
WHERE id = $1
"""

CANCEL_MEETUP = """
UPDATE meetups SET status = 'cancelled', cancel_reason = $2, cancelled_at = now(), seats_taken = 0, updated_at = now()
WHERE id = $1
"""

# Stands in the sign-up's community ("s") by the access rule (role_of): an active member, or on the brand's team,
# who may sign up member or not; else their place is no longer theirs (left or removed).
ACTIVE_MEMBER = f"({role_of('s.community_id', 's.user_id')} IS NOT NULL)"

# Who hears of a change or a cancellation: every member holding or waiting for a place.
SIGNED_UP = f"""
SELECT user_id FROM meetup_signups s
WHERE meetup_id = $1 AND status IN ('confirmed', 'pending_payment', 'waitlisted') AND {ACTIVE_MEMBER}
"""  # noqa: S608 - a constant expression

CANCEL_ALL_SIGNUPS = """
UPDATE meetup_signups SET status = 'cancelled', cancel_reason = 'meetup_cancelled', hold_until = NULL,
       updated_at = now()
WHERE meetup_id = $1 AND status <> 'cancelled'
RETURNING id, order_id
"""

ADD_SEATS = "UPDATE meetups SET seats_taken = seats_taken + $2, updated_at = now() WHERE id = $1"

# Upcoming (not ended) soonest first, or past latest first; cursor (starts_at, id).
MEETUPS_UPCOMING = """
SELECT m.*, (SELECT count(*) FROM meetup_signups s
            WHERE s.meetup_id = m.id AND s.community_id = m.community_id AND s.status = 'waitlisted')::int
           AS waitlist_count
FROM meetups m
WHERE m.community_id = $1 AND m.ends_at > $2
  AND ($3::timestamptz IS NULL OR (m.starts_at, m.id) > ($3, $4))
ORDER BY m.starts_at, m.id
LIMIT $5
"""

MEETUPS_PAST = """
SELECT m.*, (SELECT count(*) FROM meetup_signups s
            WHERE s.meetup_id = m.id AND s.community_id = m.community_id AND s.status = 'waitlisted')::int
           AS waitlist_count
FROM meetups m
WHERE m.community_id = $1 AND m.ends_at <= $2
  AND ($3::timestamptz IS NULL OR (m.starts_at, m.id) < ($3, $4))
ORDER BY m.starts_at DESC, m.id DESC
LIMIT $5
"""

# A waitlisted sign-up's place in the queue (1 = next to get a place), in the order PROMOTE takes them.
_WAITLIST_POSITION = """CASE WHEN s.status = 'waitlisted' THEN (
           SELECT count(*) FROM meetup_signups w
           WHERE w.meetup_id = s.meetup_id AND w.community_id = s.community_id AND w.status = 'waitlisted'
             AND (w.waitlisted_at, w.id) <= (s.waitlisted_at, s.id)
       )::int END"""

SIGNUP = f"""
SELECT s.*, u.nickname, {_WAITLIST_POSITION} AS waitlist_position
FROM meetup_signups s JOIN users u ON u.id = s.user_id
WHERE s.id = $1
"""  # noqa: S608 - a constant expression

SIGNUP_OF = "SELECT * FROM meetup_signups WHERE meetup_id = $1 AND user_id = $2"

SIGNUP_ID_OF = "SELECT id FROM meetup_signups WHERE meetup_id = $1 AND user_id = $2"

LOCK_SIGNUP = "SELECT * FROM meetup_signups WHERE community_id = $1 AND id = $2 FOR UPDATE"

LOCK_SIGNUP_OF = """
SELECT * FROM meetup_signups WHERE community_id = $1 AND meetup_id = $2 AND user_id = $3 FOR UPDATE
"""

SIGNUP_WITH_ORDER = """
SELECT s.*, o.status AS order_status, o.time_expire AS order_expires_at
FROM meetup_signups s LEFT JOIN orders o ON o.community_id = s.community_id AND o.id = s.order_id
WHERE s.id = $1
"""

# $1 the meetup's community, $2 the order: a row lock Citus takes on the community's shard (it takes none by id).
LOCK_ORDER = "SELECT id, status FROM orders WHERE community_id = $1 AND id = $2 FOR UPDATE"

# A new sign-up, or a cancelled one taken up again (fresh state, a new place in the waitlist). Taken under the
# meetup's lock, so the clock orders the waitlist exactly as the sign-ups came through the lock. A check-in at the
# venue stays: the member was there, and checking in again must not record `attendance` (participation) once more.
UPSERT_SIGNUP = """
INSERT INTO meetup_signups (meetup_id, community_id, user_id, status, waitlisted_at, hold_until)
VALUES ($1, $2, $3, $4, CASE WHEN $4 = 'waitlisted' THEN clock_timestamp() END, $5)
ON CONFLICT (meetup_id, user_id, community_id) DO UPDATE
SET status = excluded.status, waitlisted_at = excluded.waitlisted_at, hold_until = excluded.hold_until,
    cancel_reason = NULL, order_id = NULL, reminder_status = NULL,
    promotion_notice = NULL, created_at = excluded.created_at, updated_at = excluded.updated_at
RETURNING id, status
"""

ATTACH_ORDER = """
UPDATE meetup_signups SET order_id = $2, hold_until = greatest(hold_until, $3), updated_at = now()
WHERE id = $1 AND status = 'pending_payment'
RETURNING hold_until
"""

CONFIRM = """
UPDATE meetup_signups SET status = 'confirmed', hold_until = NULL, order_id = coalesce($2, order_id),
       cancel_reason = NULL, updated_at = now()
WHERE id = $1
"""

CANCEL_SIGNUP = """
UPDATE meetup_signups SET status = 'cancelled', cancel_reason = $2, hold_until = NULL, updated_at = now()
WHERE id = $1
"""

# The first waitlisted members, in the order they queued, get the free places ($1 community, $2 meetup); one
# who left the community meanwhile is passed over.
PROMOTE = f"""
UPDATE meetup_signups w SET status = $4, hold_until = $5, promotion_notice = NULL, updated_at = now()
FROM (
    SELECT id FROM meetup_signups s
    WHERE community_id = $1 AND meetup_id = $2 AND status = 'waitlisted' AND {ACTIVE_MEMBER}
    ORDER BY waitlisted_at, id
    LIMIT $3
    FOR UPDATE
) next
WHERE w.community_id = $1 AND w.id = next.id
RETURNING w.id
"""  # noqa: S608 - a constant expression

# Under the meetup's lock ($1 community, $2 meetup): the places and waitlist entries of members who left or were
# removed end; `held` says which of them counted against the capacity.
CANCEL_DEPARTED = f"""
UPDATE meetup_signups d SET status = 'cancelled', cancel_reason = 'member_left', hold_until = NULL,
       updated_at = now()
FROM (
    SELECT id, status <> 'waitlisted' AS held FROM meetup_signups s
    WHERE community_id = $1 AND meetup_id = $2 AND status IN ('confirmed', 'pending_payment', 'waitlisted')
      AND NOT {ACTIVE_MEMBER}
    FOR UPDATE
) gone
WHERE d.community_id = $1 AND d.id = gone.id
RETURNING d.id, d.order_id, gone.held
"""  # noqa: S608 - a constant expression

# Meetups still to come where members who left hold or wait for places, found across communities without a lock.
DEPARTED = f"""
SELECT DISTINCT s.community_id, s.meetup_id
FROM meetup_signups s JOIN meetups m ON m.id = s.meetup_id AND m.community_id = s.community_id
WHERE s.status IN ('confirmed', 'pending_payment', 'waitlisted') AND m.status = 'open' AND m.starts_at > now()
  AND NOT {ACTIVE_MEMBER}
LIMIT $1
"""  # noqa: S608 - a constant expression

# The admins' list: each waitlisted sign-up with its place in the queue, as its member reads it.
SIGNUPS = f"""
SELECT s.*, u.nickname, {_WAITLIST_POSITION} AS waitlist_position, s.id AS sort_id
FROM meetup_signups s JOIN users u ON u.id = s.user_id
WHERE s.meetup_id = $1 AND ($2::text IS NULL OR s.status = $2) AND ($3::bigint IS NULL OR s.id > $3)
ORDER BY s.id
LIMIT $4
"""  # noqa: S608 - a constant expression

# Paid orders of the sign-ups a cancelled meetup cancelled: each is refunded once (refund_order refuses a
# second full refund).
PAID_ORDERS_OF_CANCELLED = """
SELECT s.order_id FROM meetup_signups s JOIN orders o ON o.community_id = s.community_id AND o.id = s.order_id
WHERE s.meetup_id = $1 AND s.cancel_reason = 'meetup_cancelled' AND o.status = 'paid'
ORDER BY s.order_id
"""

OPEN_ORDERS_OF_CANCELLED = """
SELECT o.id FROM orders o
WHERE o.purpose = 'meetup' AND o.status = 'created'
  AND o.subject_id IN (SELECT s.id FROM meetup_signups s WHERE s.meetup_id = $1)
"""

MARK_ATTENDED = """
UPDATE meetup_signups SET attended_at = $2, attended_via = $3, updated_at = now()
WHERE id = $1 AND attended_at IS NULL
RETURNING id
"""

SIGNUP_MEETUP = "SELECT meetup_id, community_id, attended_at FROM meetup_signups WHERE id = $1"

# Claimed before sending (at most one reminder per sign-up, never retried): the due sign-ups found across
# communities without a lock, then each claimed on its community's shard, skipped if another worker holds it.
# None where the app is off (its jobs skip such communities); they stay due, sent if it is on again in time.
DUE_REMINDERS = f"""
SELECT s.community_id, s.id
FROM meetup_signups s JOIN meetups m ON m.id = s.meetup_id AND m.community_id = s.community_id
WHERE s.status = 'confirmed' AND s.reminder_status IS NULL AND m.status = 'open'
  AND m.starts_at > now() AND m.starts_at <= now() + make_interval(secs => $1)
  AND {app_active("s.community_id", "'meetups'")} AND {ACTIVE_MEMBER}
ORDER BY m.starts_at
LIMIT $2
"""  # noqa: S608 - a constant expression

CLAIM_REMINDER = """
UPDATE meetup_signups s SET reminder_status = 'sending'
FROM (
    SELECT s2.id FROM meetup_signups s2
    WHERE s2.community_id = $1 AND s2.id = $2 AND s2.status = 'confirmed' AND s2.reminder_status IS NULL
    FOR UPDATE SKIP LOCKED
) due
WHERE s.community_id = $1 AND s.id = due.id
RETURNING s.id
"""

CLAIM_PROMOTION_NOTICE = """
UPDATE meetup_signups SET promotion_notice = 'sending'
WHERE id = $1 AND promotion_notice IS NULL AND status IN ('confirmed', 'pending_payment')
RETURNING id
"""

# Who to tell, and what: the member's openid, whether they still stand in the community (ACTIVE_MEMBER's rule) and
# their mute setting, the meetup, the community's time zone.
NOTICE_CONTEXT = f"""
SELECT u.openid, {role_of("m.community_id", "s.user_id")} IS NOT NULL AS member,
       coalesce(mb.notifications_muted, false) AS muted,
       m.id AS meetup_id, m.title, m.place, m.mode, m.starts_at, s.hold_until, c.timezone
FROM meetup_signups s
JOIN users u ON u.id = s.user_id
JOIN meetups m ON m.id = s.meetup_id AND m.community_id = s.community_id
JOIN communities c ON c.id = m.community_id
LEFT JOIN memberships mb ON mb.community_id = m.community_id AND mb.user_id = s.user_id AND mb.status = 'active'
WHERE s.id = $1
"""  # noqa: S608 - a constant expression

SET_REMINDER_STATUS = "UPDATE meetup_signups SET reminder_status = $2 WHERE id = $1"

SET_PROMOTION_NOTICE = "UPDATE meetup_signups SET promotion_notice = $2 WHERE id = $1"
