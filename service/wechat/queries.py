"""SQL of the shared WeChat access token."""

SELECT_ACCESS_TOKEN = """
SELECT access_token, extract(epoch FROM expires_at)::float8 AS expires_at
FROM wechat_access_tokens WHERE appid = $1
"""

# Serialises refreshes of one appid's token across every instance, for the length of the transaction.
LOCK_ACCESS_TOKEN = "SELECT pg_advisory_xact_lock(hashtextextended('wechat_access_token:' || $1, 0))"

UPSERT_ACCESS_TOKEN = """
INSERT INTO wechat_access_tokens (appid, access_token, expires_at, refreshed_at)
VALUES ($1, $2, now() + make_interval(secs => $3), now())
ON CONFLICT (appid) DO UPDATE
SET access_token = EXCLUDED.access_token, expires_at = EXCLUDED.expires_at, refreshed_at = EXCLUDED.refreshed_at
RETURNING expires_at  -- a timestamptz: Citus takes no non-immutable function (extract) in RETURNING
"""
