"""The SQL of brands and series: $n parameters only. Ids leave as text (the wire form)."""

from __future__ import annotations

INSERT_BRAND = """
INSERT INTO brands (owner_id, name, description, welcome_template, introduction_required, introduction_prompt,
                    robot_rules, points_spendable)
VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, false))
RETURNING id
"""

UPDATE_DEFAULTS = """
UPDATE brands SET welcome_template = $2, introduction_required = $3, introduction_prompt = $4, robot_rules = $5,
       points_spendable = coalesce($6, points_spendable), updated_at = now()
WHERE id = $1
"""

BRAND = """
SELECT id::text AS id, owner_id::text AS owner_id, name, description, welcome_template, introduction_required,
       introduction_prompt, robot_rules, points_spendable, created_at
FROM brands WHERE id = $1
"""

INSERT_TEAM_MEMBER = """
INSERT INTO brand_admins (brand_id, user_id, role, added_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (brand_id, user_id) DO NOTHING
"""

TEAM_ROLE_OF = "SELECT role FROM brand_admins WHERE brand_id = $1 AND user_id = $2"

LOCK_BRAND = "SELECT owner_id FROM brands WHERE id = $1 FOR UPDATE"

SET_TEAM_ROLE = "UPDATE brand_admins SET role = $3 WHERE brand_id = $1 AND user_id = $2"

SET_BRAND_OWNER = "UPDATE brands SET owner_id = $2, updated_at = now() WHERE id = $1"

DELETE_ADMIN = "DELETE FROM brand_admins WHERE brand_id = $1 AND user_id = $2 AND role = 'admin'"

# The brand's communities where this user ($2) stood only as its team: no active membership of their own.
STOOD_AS_TEAM = """
SELECT id FROM communities WHERE brand_id = $1
EXCEPT
SELECT community_id FROM memberships WHERE user_id = $2 AND status = 'active'
"""

# Never a tombstone (an erased account): it left every team at its erasure and can no longer sign in.
USER_EXISTS = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND erased_at IS NULL)"

USER_OPENID = "SELECT openid FROM users WHERE id = $1"

TEAM = """
SELECT b.user_id::text AS user_id, u.nickname, b.role, b.added_at
FROM brand_admins b JOIN users u ON u.id = b.user_id
WHERE b.brand_id = $1
ORDER BY b.role DESC, b.added_at, b.user_id
"""

# The brand page: figures already kept (member counts, the stage and score of the daily stage job), side by side.
COMMUNITIES = """
SELECT c.id::text AS id, c.name, c.member_count, c.member_cap, c.entry_mode,
       coalesce(s.stage, 'gather') AS stage, coalesce(s.activity_score, 0) AS activity_score,
       c.series_id::text AS series_id, c.series_number
FROM communities c LEFT JOIN community_stages s ON s.community_id = c.id
WHERE c.brand_id = $1
ORDER BY c.id
LIMIT $2
"""

COMMUNITY_BRAND = "SELECT brand_id, series_id FROM communities WHERE id = $1 FOR UPDATE"

# Attach, taking the brand's defaults where it has them ($3) or only the brand ($3 false).
ATTACH = """
UPDATE communities c SET brand_id = b.id,
       welcome_template = CASE WHEN $3 THEN coalesce(b.welcome_template, c.welcome_template)
                               ELSE c.welcome_template END,
       introduction_required = CASE WHEN $3 THEN coalesce(b.introduction_required, c.introduction_required)
                                    ELSE c.introduction_required END,
       introduction_prompt = CASE WHEN $3 THEN coalesce(b.introduction_prompt, c.introduction_prompt)
                                  ELSE c.introduction_prompt END,
       updated_at = now()
FROM brands b
WHERE c.id = $1 AND b.id = $2
"""

INSERT_AUDIT = """
INSERT INTO community_audit_log (community_id, actor_id, action, subject_id, details) VALUES ($1, $2, $3, $4, $5)
"""

INSERT_SERIES = """
INSERT INTO community_series (brand_id, name, template_id, created_by) VALUES ($1, $2, $3, $4) RETURNING id
"""

JOIN_SERIES = "UPDATE communities SET series_id = $2, series_number = 1, updated_at = now() WHERE id = $1"

SERIES = """
SELECT id::text AS id, brand_id::text AS brand_id, name, template_id::text AS template_id
FROM community_series WHERE id = $1
"""

SISTERS = """
SELECT c.id::text AS id, c.name, c.series_number AS number, c.member_count, c.member_cap,
       c.member_count < c.member_cap AS has_room
FROM communities c WHERE c.series_id = $1
ORDER BY c.series_number
"""

MY_SISTER = """
SELECT c.id::text FROM communities c JOIN memberships m ON m.community_id = c.id
WHERE c.series_id = $1 AND m.user_id = $2 AND m.status = 'active'
ORDER BY m.role = 'member' DESC, c.series_number
LIMIT 1
"""

# --- CSV export (core/exports.py): $1 the communities, $2 the row limit ----------------------------------------

EXPORT_MEMBERS = """
SELECT c.id::text, c.name, m.user_id::text, u.nickname, m.role, m.via, m.joined_at,
       m.introduction_post_id IS NOT NULL
FROM communities c
JOIN memberships m ON m.community_id = c.id AND m.status = 'active'
JOIN users u ON u.id = m.user_id
WHERE c.id = ANY($1::bigint[])
ORDER BY c.id, m.joined_at, m.user_id
LIMIT $2
"""

EXPORT_COMMUNITIES = """
SELECT c.id::text, c.name, c.member_count, c.member_cap, c.entry_mode, coalesce(s.stage, 'gather'),
       coalesce(s.activity_score, 0), c.series_id::text, c.series_number
FROM communities c LEFT JOIN community_stages s ON s.community_id = c.id
WHERE c.id = ANY($1::bigint[])
ORDER BY c.id
LIMIT $2
"""

BRAND_COMMUNITY_IDS = "SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM communities WHERE brand_id = $1"

INSERT_EXPORT = """
INSERT INTO brand_exports (brand_id, user_id, report, row_count, truncated, window_from, window_to)
VALUES ($1, $2, $3, $4, false, $5, $6)
"""
