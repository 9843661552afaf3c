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

SELECT_REFRESH_TOKEN_FOR_UPDATE = """
SELECT id, user_id, family_id,
       expires_at <= now() AS expired,
       used_at IS NOT NULL AS used,
       revoked_at IS NOT NULL AS revoked
FROM refresh_tokens WHERE token_hash = $1
FOR UPDATE
"""

MARK_REFRESH_TOKEN_USED = "UPDATE refresh_tokens SET used_at = now() WHERE id = $1"

REVOKE_FAMILY = "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL"

REVOKE_FAMILY_OF_TOKEN = """
UPDATE refresh_tokens SET revoked_at = now()
WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL
"""

SELECT_ME = "SELECT id, nickname, avatar_url, phone, created_at FROM users WHERE id = $1"

SELECT_IDENTITY = "SELECT appid, openid, session_key_sealed FROM users WHERE id = $1"

UPDATE_PROFILE = """
UPDATE users
SET nickname = coalesce($2, nickname), avatar_url = coalesce($3, avatar_url), updated_at = now()
WHERE id = $1
RETURNING id, nickname, avatar_url, phone, created_at
"""

SET_PHONE = """
UPDATE users SET phone = $2, updated_at = now() WHERE id = $1
RETURNING id, nickname, avatar_url, phone, created_at
"""

# Fixed windows: each bucket counts hits since its window started; a window older than $3 seconds restarts.
DELETE_STALE_RATE_LIMITS = "DELETE FROM rate_limits WHERE window_start < now() - make_interval(secs => $1)"

DELETE_EXPIRED_REFRESH_TOKENS = "DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'"
