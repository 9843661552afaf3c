-- Blocks between members (docs/safety.md): one-directional for content (the blocker no longer sees what the
-- blocked member writes, and the blocked member cannot reply to, mention or notify the blocker), both directions
-- for member lists.
CREATE TABLE member_blocks (
    blocker_id  bigint NOT NULL REFERENCES users (id),
    blocked_id  bigint NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX member_blocks_blocked ON member_blocks (blocked_id);
CREATE INDEX member_blocks_newest ON member_blocks (blocker_id, created_at DESC, blocked_id DESC);

-- Members a post or comment mentions, in the author's order (what the answers show as @nickname).
ALTER TABLE posts ADD COLUMN mention_ids bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE comments ADD COLUMN mention_ids bigint[] NOT NULL DEFAULT '{}';

-- Who was told of a mention: once per post or comment and member, so an edit tells only the newly mentioned;
-- messaged_at claims the subscribe message (sent at most once).
CREATE TABLE mention_notices (
    subject_type  text NOT NULL CHECK (subject_type IN ('post', 'comment')),
    subject_id    bigint NOT NULL,
    user_id       bigint NOT NULL REFERENCES users (id),
    community_id  bigint NOT NULL REFERENCES communities (id),
    actor_id      bigint NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    messaged_at   timestamptz,
    PRIMARY KEY (subject_type, subject_id, user_id)
);
