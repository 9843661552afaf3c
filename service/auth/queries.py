"""SQL of login, refresh tokens, the member's profile and rate limits."""

# Times from the inserted row (its defaults), not now(): Citus takes no now() in DO UPDATE SET.
UPSERT_USER_ON_LOGIN = """
INSERT INTO users (appid, openid, unionid, session_key_sealed, last_login_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (appid, openid) DO UPDATE
SET unionid = coalesce(EXCLUDED.unionid, users.unionid),
    session_key_sealed = EXCLUDED.session_key_sealed,
    last_login_at = EXCLUDED.last_login_at,
    updated_at = EXCLUDED.updated_at
RETURNING id, nickname, avatar_url, phone, created_at, (xmax = 0) AS created
"""

INSERT_REFRESH_TOKEN = """
INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
VALUES ($1, $2, $3, now() + make_interval(secs => $4))
"""

# Locked by its user ($2, read first by REFRESH_TOKEN_USER): Citus locks a row only on the one shard it names.
REFRESH_TOKEN_USER = "SELECT user_id FROM refresh_tokens WHERE token_hash = $1"

# Every change to a member's sessions takes their users row first: a refresh, a logout, the deletion request (a
# login updates the row anyway). A revocation waiting for a refresh in flight then sees, in its next statement, the
# token that refresh minted (a single UPDATE waiting on the spent token's row saw only the rows of its snapshot and
# missed it); a refresh waiting for a revocation finds its token revoked. NO KEY: the member's own inserts elsewhere
# (a post, a like) take KEY SHARE on the row for their foreign key and need not wait.
LOCK_SESSIONS = "SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE"
SELECT_REFRESH_TOKEN_FOR_UPDATE = """
SELECT id, user_id, family_id,
       expires_at <= now() AS expired,
       used_at IS NOT NULL AS used,
       revoked_at IS NOT NULL AS revoked
FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2
FOR UPDATE
"""

MARK_REFRESH_TOKEN_USED = "UPDATE refresh_tokens SET used_at = now() WHERE id = $1"

# $2 the member, so that Citus routes the statement to their shard.
REVOKE_FAMILY = """
UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $2 AND family_id = $1 AND revoked_at IS NULL
"""

REVOKE_FAMILY_OF_TOKEN = """
UPDATE refresh_tokens SET revoked_at = now()
WHERE user_id = $2 AND revoked_at IS NULL
  AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2)
"""

SELECT_ME = "SELECT id, nickname, avatar_url, phone, created_at FROM users WHERE id = $1"


# Never the tombstone: a request whose token was checked before the erasure committed (it waited on WeChat's
# check meanwhile) would write the member's name back onto it.
UPDATE_PROFILE = """
UPDATE users
SET nickname = coalesce($2, nickname), avatar_url = coalesce($3, avatar_url), updated_at = now()
WHERE id = $1 AND erased_at IS NULL
RETURNING id, nickname, avatar_url, phone, created_at
"""

# Never the tombstone, as UPDATE_PROFILE: WeChat may give the number after the erasure committed.
SET_PHONE = """
UPDATE users SET phone = $2, updated_at = now() WHERE id = $1 AND erased_at IS NULL
RETURNING id, nickname, avatar_url, phone, created_at
"""

DELETE_EXPIRED_REFRESH_TOKENS = "DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'"

# -- account deletion (deletion.py) -----------------------------------------------------------------------------

OWNED_COMMUNITY = "SELECT id, name FROM communities WHERE owner_id = $1 ORDER BY id LIMIT 1"

# A brand's owner holds its team, its pools' money and its exports' audit: kept from deletion like a community's.
OWNED_BRAND = "SELECT id, name FROM brands WHERE owner_id = $1 ORDER BY id LIMIT 1"

# Repeated requests keep the first one's dates.
REQUEST_DELETION = """
INSERT INTO account_deletions (user_id, due_at) VALUES ($1, now() + make_interval(days => $2))
ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id
RETURNING requested_at, due_at
"""

SELECT_DELETION = "SELECT requested_at, due_at FROM account_deletions WHERE user_id = $1 AND completed_at IS NULL"

CANCEL_DELETION = "DELETE FROM account_deletions WHERE user_id = $1 AND completed_at IS NULL RETURNING user_id"

REVOKE_SESSIONS = "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL"

# The deletions due, oldest first, found across the shards without a lock; each is then locked by its member
# (LOCK_DUE, skipped if another worker holds it), after the member's account lock (core/revocation.py: a write of
# the member's holding it passes them over; the next run erases what it stored). The member's row is locked too: a
# login holding it (about to cancel) is skipped, and a login waiting for it finds, once the erasure commits, a
# pseudonymous openid and creates a new account; a write waiting for the account finds the tombstone: 401.
DUE_DELETIONS = """
SELECT user_id FROM account_deletions WHERE completed_at IS NULL AND due_at <= now() ORDER BY due_at LIMIT $1
"""

LOCK_DUE = """
SELECT d.user_id FROM account_deletions d JOIN users u ON u.id = d.user_id
WHERE d.user_id = $1 AND d.completed_at IS NULL AND d.due_at <= now()
FOR UPDATE SKIP LOCKED
"""

# Money still moving for the member: an unpaid order may yet be paid, a refund or a transfer is in flight. Each
# subquery selects a column: Citus runs them across the shards as subplans, and one with an empty select list
# fails there ("a column definition list is required").
MONEY_IN_FLIGHT = """
SELECT EXISTS (SELECT 1 FROM orders WHERE payer_user_id = $1 AND status = 'created' AND time_expire > now())
    OR EXISTS (SELECT 1 FROM refunds r JOIN orders o ON o.community_id = r.community_id AND o.id = r.order_id
               WHERE o.payer_user_id = $1 AND r.status IN ('pending', 'processing'))
    OR EXISTS (SELECT 1 FROM transfers
               WHERE payee_user_id = $1 AND status IN ('pending', 'wait_user_confirm', 'processing'))
"""

POSTPONE_DELETION = "UPDATE account_deletions SET due_at = now() + interval '1 hour' WHERE user_id = $1"

COMPLETE_DELETION = "UPDATE account_deletions SET completed_at = now() WHERE user_id = $1"

# The tombstone: the id stays (money records, threads), nothing identifies the member any more.
TOMBSTONE = """
UPDATE users SET openid = $2, unionid = NULL, nickname = $3, avatar_url = '', phone = NULL,
                 session_key_sealed = NULL, last_login_at = NULL, erased_at = now(), updated_at = now()
WHERE id = $1
"""

DELETE_SESSIONS = "DELETE FROM refresh_tokens WHERE user_id = $1"

DELETE_KEPT_ANSWERS = "DELETE FROM idempotent_requests WHERE user_id = $1"

EXPORT_PROFILE = """
SELECT id::text AS id, openid, unionid, nickname, avatar_url, phone AS phone_number, created_at, last_login_at
FROM users WHERE id = $1
"""
