-- WeChat's message push in plain mode signs token, timestamp and nonce, never the body: a signed query string is
-- good for the first body it came with (service/robots/push.py). Kept until its timestamp is refused as stale;
-- the robots' periodic job forgets the rest.
CREATE TABLE wechat_push_seals (
    signature    text PRIMARY KEY,   -- sha1 of the sorted token, timestamp and nonce: one per signed query
    body_sha256  bytea NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX wechat_push_seals_expiry ON wechat_push_seals (expires_at);
