-- The WeChat group chats a share reached: one row per share and group, the first open and how many opens were
-- recorded (POST /v1/shares/{code}/group-opens, docs/growth.md "Groups a share reached"). Nothing names the opener.
-- The group is kept as SHA-256(appid, openGId), never the openGId: reach needs only "the same group or another".
-- An openGId is a long opaque string, so its digest cannot be found by trying candidates; no key, so a change of
-- SECRET_KEY does not count every group anew.
CREATE TABLE share_group_opens (
    community_id     bigint NOT NULL REFERENCES communities (id),
    share_id         bigint NOT NULL REFERENCES post_shares (id),
    group_digest     bytea NOT NULL CHECK (octet_length(group_digest) = 32),
    first_opened_at  timestamptz NOT NULL DEFAULT now(),
    last_opened_at   timestamptz NOT NULL DEFAULT now(),
    open_count       integer NOT NULL DEFAULT 1 CHECK (open_count > 0),
    PRIMARY KEY (community_id, share_id, group_digest)
);
