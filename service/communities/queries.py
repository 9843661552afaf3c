"""The SQL of the communities domain: $n parameters only. Ids leave as text (the wire form)."""

from __future__ import annotations

from service.core.access import role_of
from service.core.blocks import apart
from service.core.media import IMAGES_JSON
from service.core.shown import member_shown

# --- communities ---------------------------------------------------------------------------------------

# The owner is the first member: member_count starts at 1.
INSERT_COMMUNITY = """
INSERT INTO communities (owner_id, name, description, cover_url, tags, visibility, entry_mode, price_fen,
                         member_cap, member_count, welcome_template, introduction_required, introduction_prompt,
                         refund_window_hours, collections_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $12, $13, $14)
RETURNING id
"""

# The stage is looked up by the same $1 as the community: one shard under Citus, where a correlated lookup under
# FOR UPDATE is refused.
COMMUNITY = """
SELECT c.id::text AS id, c.owner_id::text AS owner_id, c.name, c.description, c.cover_url, c.tags, c.visibility,
       c.entry_mode, c.price_fen, c.member_cap, c.member_count, c.welcome_template, c.introduction_required,
       c.introduction_prompt, c.refund_window_hours, c.collections_by, c.created_at, c.updated_at,
       coalesce((SELECT s.stage FROM community_stages s WHERE s.community_id = $1), 'gather') AS stage
FROM communities c WHERE c.id = $1
"""

# The lock every admission and departure of a community takes: it serialises changes to member_count.
LOCK_COMMUNITY = """
SELECT c.id::text AS id, c.owner_id::text AS owner_id, c.name, c.description, c.cover_url, c.tags, c.visibility,
       c.entry_mode, c.price_fen, c.member_cap, c.member_count, c.welcome_template, c.introduction_required,
       c.introduction_prompt, c.refund_window_hours, c.collections_by, c.created_at, c.updated_at,
       coalesce((SELECT s.stage FROM community_stages s WHERE s.community_id = $1), 'gather') AS stage
FROM communities c WHERE c.id = $1 FOR UPDATE
"""

# A join request's (or a rejection's) hold on its community: conflicts with LOCK_COMMUNITY (an admission) only.
KEY_SHARE_COMMUNITY = "SELECT 1 FROM communities WHERE id = $1 FOR KEY SHARE"

UPDATE_COMMUNITY = """
UPDATE communities SET name = $2, description = $3, cover_url = $4, tags = $5, visibility = $6, entry_mode = $7,
       price_fen = $8, member_cap = $9, welcome_template = $10, introduction_required = $11,
       introduction_prompt = $12, refund_window_hours = $13, collections_by = $14, updated_at = now()
WHERE id = $1
"""

SET_OWNER = "UPDATE communities SET owner_id = $2, updated_at = now() WHERE id = $1"

ADD_MEMBER_COUNT = "UPDATE communities SET member_count = member_count + $2 WHERE id = $1"

# Listed communities, newest first; optional name substring ($1, LIKE-escaped) and exact tag ($2).
DISCOVER = """
SELECT c.id::text AS id, c.name, c.description, c.cover_url, c.tags, c.entry_mode, c.price_fen, c.member_count,
       c.member_cap, c.created_at, c.id AS sort_id
FROM communities c
WHERE c.visibility = 'listed'
  AND ($1::text IS NULL OR c.name ILIKE '%' || $1 || '%')
  AND ($2::text IS NULL OR c.tags @> ARRAY[$2::text])
  AND ($3::bigint IS NULL OR c.id < $3)
ORDER BY c.id DESC
LIMIT $4
"""

# My active communities with their last activity and my unread count (capped: a badge shows "99+").
MY_COMMUNITIES = """
SELECT * FROM (
    SELECT c.id::text AS id, c.id AS sort_id, c.name, c.cover_url, c.entry_mode, c.member_count,
           m.role, m.joined_at, m.notifications_muted, m.unfollowed,
           m.introduction_post_id IS NOT NULL AS introduced,
           coalesce(latest.created_at, c.created_at) AS last_activity_at,
           (SELECT count(*) FROM (
                SELECT 1 FROM posts p
                WHERE p.community_id = m.community_id AND p.deleted_at IS NULL AND p.status = 'visible'
                  AND p.created_at > m.last_read_at AND p.author_id IS DISTINCT FROM m.user_id
                LIMIT 100) unread)::int AS unread_count
    FROM memberships m
    JOIN communities c ON c.id = m.community_id
    LEFT JOIN LATERAL (
        SELECT p.created_at FROM posts p
        WHERE p.community_id = m.community_id AND p.deleted_at IS NULL AND p.status = 'visible'
        ORDER BY p.created_at DESC LIMIT 1
    ) latest ON true
    WHERE m.user_id = $1 AND m.status = 'active'
) mine
WHERE $2::timestamptz IS NULL OR (mine.last_activity_at, mine.sort_id) < ($2, $3)
ORDER BY mine.last_activity_at DESC, mine.sort_id DESC
LIMIT $4
"""

# --- memberships ---------------------------------------------------------------------------------------

MEMBERSHIP = """
SELECT m.role, m.status, m.joined_at, m.muted_until, m.notifications_muted, m.unfollowed,
       m.introduction_post_id IS NOT NULL AS introduced, m.introduction_post_id::text AS introduction_post_id
FROM memberships m WHERE m.community_id = $1 AND m.user_id = $2
"""

MEMBERSHIP_FOR_UPDATE = """
SELECT m.role, m.status, m.joined_at, m.muted_until, m.notifications_muted, m.unfollowed,
       m.introduction_post_id IS NOT NULL AS introduced, m.introduction_post_id::text AS introduction_post_id
FROM memberships m WHERE m.community_id = $1 AND m.user_id = $2 FOR UPDATE
"""

# What every access check needs: does the community exist, and what is the caller in it.
INSERT_OWNER = """
INSERT INTO memberships (community_id, user_id, role, via) VALUES ($1, $2, 'owner', 'owner')
"""

# Admit, or re-admit after leaving. An admin's mute and an earlier introduction survive a re-join, so
# leaving and coming back is no way around a mute. The times come from the inserted row: Citus takes no now() in
# DO UPDATE SET. joined_at is the clock under the community's lock, not the transaction's start (now()): joining
# order is then admission order, and the member list's cursor (joined_at, id) skips no join committed after a page.
UPSERT_MEMBER = """
INSERT INTO memberships AS m (community_id, user_id, via, joined_at) VALUES ($1, $2, $3, clock_timestamp())
ON CONFLICT (community_id, user_id) DO UPDATE
SET role = 'member', status = 'active', via = EXCLUDED.via, joined_at = EXCLUDED.joined_at, left_at = NULL,
    removed_by = NULL, notifications_muted = false, unfollowed = false, last_read_at = EXCLUDED.last_read_at
RETURNING m.role, m.status, m.joined_at, m.muted_until, m.notifications_muted, m.unfollowed,
       m.introduction_post_id IS NOT NULL AS introduced, m.introduction_post_id::text AS introduction_post_id
"""

SET_WELCOME_POST = "UPDATE memberships SET welcome_post_id = $3 WHERE community_id = $1 AND user_id = $2"

# Leave ($3 = 'left') or removal ($3 = 'removed'); the role falls back to member for a later re-join.
END_MEMBERSHIP = """
UPDATE memberships SET status = $3, role = 'member', left_at = now(), removed_by = $4
WHERE community_id = $1 AND user_id = $2 AND status = 'active'
"""

SET_ROLE = """
UPDATE memberships SET role = $3 WHERE community_id = $1 AND user_id = $2 AND status = 'active'
"""

SET_MUTED_UNTIL = """
UPDATE memberships SET muted_until = $3 WHERE community_id = $1 AND user_id = $2 AND status = 'active'
"""

SET_MEMBER_PREFERENCES = """
UPDATE memberships SET notifications_muted = coalesce($3, notifications_muted),
       unfollowed = coalesce($4, unfollowed)
WHERE community_id = $1 AND user_id = $2 AND status = 'active'
"""

MARK_READ = """
UPDATE memberships SET last_read_at = greatest(last_read_at, now())
WHERE community_id = $1 AND user_id = $2 AND status = 'active'
"""

SET_INTRODUCTION = """
UPDATE memberships SET introduction_post_id = $3, introduced_at = now() WHERE community_id = $1 AND user_id = $2
"""

# $3: part of the nickname (case-insensitive), $4 the reader (neither blocked the other: core/shown.py);
# $5, $6 the cursor, $7 how many.
MEMBERS = f"""
SELECT m.user_id::text AS user_id, u.nickname, u.avatar_url, m.role, m.joined_at,
       m.introduction_post_id IS NOT NULL AS introduced, m.muted_until, m.user_id AS sort_id
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.community_id = $1 AND m.status = 'active'
  AND ($2::text IS NULL OR m.role = $2)
  AND ($5::timestamptz IS NULL OR (m.joined_at, m.user_id) > ($5, $6))
  AND ($3::text IS NULL OR strpos(lower(u.nickname), lower($3)) > 0)
  AND {member_shown("m.user_id", "$4")}
ORDER BY m.joined_at, m.user_id
LIMIT $7
"""  # noqa: S608

# Members who joined since $2, newest first; $3 = false keeps only those without an introduction; $4 the
# admin reading; $5, $6 the cursor, $7 how many.
NEWCOMERS = f"""
SELECT m.user_id::text AS user_id, u.nickname, u.avatar_url, m.joined_at,
       m.introduction_post_id IS NOT NULL AS introduced, m.user_id AS sort_id
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.community_id = $1 AND m.status = 'active' AND m.joined_at >= $2
  AND ($3::boolean IS NULL OR (m.introduction_post_id IS NOT NULL) = $3)
  AND ($5::timestamptz IS NULL OR (m.joined_at, m.user_id) < ($5, $6))
  AND {apart("$4", "m.user_id")}
ORDER BY m.joined_at DESC, m.user_id DESC
LIMIT $7
"""  # noqa: S608

USER_NICKNAME = "SELECT nickname FROM users WHERE id = $1"

# --- posts the ceremony writes ---------------------------------------------------------------------------

# An introduction: its activity is recorded with it, so it is counted already (the recheck job of a pending
# one only makes it visible).
INSERT_INTRODUCTION = (
    """
WITH p AS (
    INSERT INTO posts (community_id, author_id, kind, text, status, check_label, counted_at, image_ids)
    VALUES ($1, $2, 'introduction', $3, $4, $5, now(), $6)
    RETURNING id, community_id, author_id, text, image_urls, status, created_at, image_ids
)
SELECT p.id::text AS post_id, p.community_id::text AS community_id, p.author_id::text AS user_id, p.text,
       p.image_urls, p.status, p.created_at, """  # noqa: S608 - constants joined at import time
    + IMAGES_JSON.format(ids="p.image_ids")
    + """::text AS images
FROM p
"""
)

USER_OPENID = "SELECT openid FROM users WHERE id = $1"

# --- join requests -------------------------------------------------------------------------------------

INSERT_JOIN_REQUEST = """
INSERT INTO join_requests (community_id, user_id, message, share_id) VALUES ($1, $2, $3, $4)
ON CONFLICT (community_id, user_id) WHERE status = 'pending' DO NOTHING
RETURNING id
"""

JOIN_REQUEST = """
SELECT r.id::text AS id, r.community_id::text AS community_id, r.user_id::text AS user_id, u.nickname, u.avatar_url,
       r.message, r.status, r.reason, r.created_at, r.decided_at, r.decided_by::text AS decided_by
FROM join_requests r JOIN users u ON u.id = r.user_id
WHERE r.id = $1 AND r.community_id = $2
"""

LOCK_JOIN_REQUEST = """
SELECT j.id, j.user_id, j.status, j.share_id, s.user_id AS sharer_id
FROM join_requests j LEFT JOIN post_shares s ON s.id = j.share_id AND s.community_id = j.community_id
WHERE j.id = $1 AND j.community_id = $2 FOR UPDATE OF j
"""

PENDING_REQUEST_OF = "SELECT id FROM join_requests WHERE community_id = $1 AND user_id = $2 AND status = 'pending'"

LATEST_REQUEST_OF = """
SELECT r.id::text AS id, r.community_id::text AS community_id, r.user_id::text AS user_id, u.nickname, u.avatar_url,
       r.message, r.status, r.reason, r.created_at, r.decided_at, r.decided_by::text AS decided_by
FROM join_requests r JOIN users u ON u.id = r.user_id
WHERE r.community_id = $1 AND r.user_id = $2
ORDER BY r.id DESC LIMIT 1
"""

DECIDE_JOIN_REQUEST = """
UPDATE join_requests SET status = $3, reason = $4, decided_by = $5, decided_at = now()
WHERE id = $1 AND community_id = $2
"""

# An admission by any other path settles the member's pending request.
CANCEL_PENDING_REQUEST = """
UPDATE join_requests SET status = 'cancelled', decided_at = now()
WHERE community_id = $1 AND user_id = $2 AND status = 'pending'
"""

# A pending request of someone who is an active member already is settled, not waiting for an admin (left by a
# race fixed since; migration 0062 cancels those it found): the pending list leaves it out.
JOIN_REQUESTS = """
SELECT r.id::text AS id, r.community_id::text AS community_id, r.user_id::text AS user_id, u.nickname, u.avatar_url,
       r.message, r.status, r.reason, r.created_at, r.decided_at, r.decided_by::text AS decided_by, r.id AS sort_id
FROM join_requests r JOIN users u ON u.id = r.user_id
WHERE r.community_id = $1 AND r.status = $2 AND ($3::bigint IS NULL OR r.id > $3)
  AND (r.status <> 'pending' OR NOT EXISTS (
      SELECT FROM memberships m
      WHERE m.community_id = r.community_id AND m.user_id = r.user_id AND m.status = 'active'))
ORDER BY r.id
LIMIT $4
"""

# --- invites and referrals -----------------------------------------------------------------------------

INSERT_INVITE = """
INSERT INTO invites (community_id, code, created_by, max_uses, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(hours => $5))
RETURNING code, community_id::text AS community_id, created_by::text AS created_by, max_uses, uses, expires_at,
       revoked_at IS NOT NULL AS revoked, created_at
"""

# An invite of community $1 is live only while its creator may still make it (joining.create_invite's rule): they
# stand there as the access check reads it, as an admin where the community is approval-only. So a link dies with
# its creator's standing however that ends: leaving, removal, a brand admin taken off the team, an admin demoted
# in an approval community (a link there would skip the review).
INVITER_STANDS = f"""(CASE {role_of("$1", "invites.created_by")} WHEN 'owner' THEN true WHEN 'admin' THEN true
    WHEN 'member' THEN (SELECT entry_mode FROM communities WHERE id = $1) <> 'approval' ELSE false END)"""  # noqa: S608

# A referrer ($2) is credited only while they stand in community $1 as the access check reads it: an active member,
# or on the brand's team, member or not (their links admit while they are; docs/growth.md, docs/brands.md).
REFERRER_STANDS = f"SELECT {role_of('$1', '$2')} IS NOT NULL"  # noqa: S608

# Takes one use of a live invite. The row lock serialises concurrent uses and the WHERE clause is
# re-checked after the wait, so uses never pass max_uses.
USE_INVITE = f"""
UPDATE invites SET uses = uses + 1
WHERE community_id = $1 AND code = $2 AND revoked_at IS NULL AND expires_at > now() AND uses < max_uses
  AND {INVITER_STANDS}
RETURNING id, created_by
"""  # noqa: S608

# A link whose creator no longer stands reads as revoked (`invite_expired`), here and in the list.
INVITE_STATE = f"""
SELECT revoked_at IS NOT NULL OR NOT {INVITER_STANDS} AS revoked, expires_at <= now() AS expired,
       uses >= max_uses AS used_up, created_by
FROM invites WHERE community_id = $1 AND code = $2
"""  # noqa: S608

INVITES = f"""
SELECT code, community_id::text AS community_id, created_by::text AS created_by, max_uses, uses, expires_at,
       revoked_at IS NOT NULL OR NOT {INVITER_STANDS} AS revoked, created_at, id AS sort_id FROM invites
WHERE community_id = $1 AND ($2::bigint IS NULL OR created_by = $2) AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC
LIMIT $4
"""  # noqa: S608

REVOKE_INVITE = """
UPDATE invites SET revoked_at = least(revoked_at, now())  -- least, not coalesce: Citus
WHERE community_id = $1 AND code = $2 AND ($3::bigint IS NULL OR created_by = $3)
RETURNING code, community_id::text AS community_id, created_by::text AS created_by, max_uses, uses, expires_at,
       revoked_at IS NOT NULL AS revoked, created_at
"""

# A member who leaves or is removed takes their invite links with them.
REVOKE_INVITES_OF = """
UPDATE invites SET revoked_at = now() WHERE community_id = $1 AND created_by = $2 AND revoked_at IS NULL
"""

INSERT_REFERRAL = """
INSERT INTO referrals (community_id, referred_id, referrer_id, invite_id, share_id) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (community_id, referred_id) DO NOTHING
"""

# --- audit log -----------------------------------------------------------------------------------------

INSERT_AUDIT = """
INSERT INTO community_audit_log (community_id, actor_id, action, subject_id, details) VALUES ($1, $2, $3, $4, $5)
"""

AUDIT_LOG = """
SELECT a.id::text AS id, a.action, a.actor_id::text AS actor_id, actor.nickname AS actor_nickname,
       a.subject_id::text AS subject_id, subject.nickname AS subject_nickname, a.details, a.created_at,
       a.id AS sort_id
FROM community_audit_log a
LEFT JOIN users actor ON actor.id = a.actor_id
LEFT JOIN users subject ON subject.id = a.subject_id
WHERE a.community_id = $1 AND ($2::text IS NULL OR a.action = $2) AND ($3::bigint IS NULL OR a.id < $3)
ORDER BY a.id DESC
LIMIT $4
"""

# The sharer behind a share code of this community (a code of another community credits nobody).
SHARE_OF = "SELECT id, user_id FROM post_shares WHERE code = $2 AND community_id = $1 ORDER BY id LIMIT 1"
