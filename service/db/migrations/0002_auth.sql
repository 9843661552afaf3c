-- Login and sessions: the member's WeChat session key, refresh tokens, the shared WeChat access token,
-- and rate-limit counters.

-- The session_key of the member's latest login, sealed with AES-GCM (service/wechat/sealing.py); it never
-- leaves the server. Every wx.login replaces it.
ALTER TABLE users
    ADD COLUMN session_key_sealed bytea,
    ADD COLUMN last_login_at timestamptz;

-- Refresh tokens: only a SHA-256 of the token is stored. Each refresh rotates the token: the old row is
-- marked used and a new row of the same family is issued. Presenting a used token again means it leaked,
-- so the whole family (that login session) is revoked.
CREATE TABLE refresh_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   uuid NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

-- One WeChat access token per appid, shared by every API instance and worker. It is refreshed under an
-- advisory lock shortly before it expires, so instances never invalidate each other's token.
CREATE TABLE wechat_access_tokens (
    appid         text PRIMARY KEY,
    access_token  text NOT NULL,
    expires_at    timestamptz NOT NULL,
    refreshed_at  timestamptz NOT NULL DEFAULT now()
);

-- Fixed-window counters (login per client address and per code). Unlogged: losing them in a crash only
-- resets the windows, and it spares the write-ahead log.
CREATE UNLOGGED TABLE rate_limits (
    bucket        text PRIMARY KEY,
    window_start  timestamptz NOT NULL,
    hits          integer NOT NULL
);
CREATE INDEX rate_limits_window_start ON rate_limits (window_start);
