-- The feed and its robots (docs/feed.md): posts with links, counters kept on the row (updated in the
-- transaction that changes them), edits, essence and the hot rank; comments with one level of replies;
-- likes, shares, weekly digests, notification records, the content-check queue; robot identities, keyword
-- rules, cooldowns, the reply log and customer-service messages.

-- Every robot (posts.robot, comments.robot) shows under one identity; the welcome, digest and keyword robots
-- are robots of the same kind. A robot has no user row and never counts as member activity.
CREATE TABLE robots (
    name        text PRIMARY KEY,
    nickname    text NOT NULL,
    avatar_url  text NOT NULL DEFAULT ''
);
INSERT INTO robots (name, nickname) VALUES
    ('welcome', '欢迎小助手'),
    ('digest', '精华周报'),
    ('keyword', '自动回复小助手');

-- The hot rank: log2 of the weighted engagement plus the age in days since the epoch. Ordering by it is
-- ordering by the time-decayed score (likes + 2 comments + 3 shares + 1) * 2^(-age_hours / 24) at any
-- moment, so it is stored, indexed and paged with a keyset cursor (docs/feed.md). Epoch seconds do not
-- depend on the time zone, so the function is immutable.
CREATE FUNCTION feed_hot_rank(likes integer, comments integer, shares integer, created timestamptz)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ln((1 + likes + 2 * comments + 3 * shares)::double precision) / ln(2.0::double precision)
           + extract(epoch FROM created)::double precision / 86400.0
$$;

ALTER TABLE posts
    ADD COLUMN link_kind     text CHECK (link_kind IN ('product', 'poll')),
    ADD COLUMN link_id       bigint,
    -- Counters of what members did, kept on the row in the writing transaction so a feed page never counts.
    ADD COLUMN like_count    integer NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    ADD COLUMN comment_count integer NOT NULL DEFAULT 0 CHECK (comment_count >= 0),  -- visible, by members
    ADD COLUMN share_count   integer NOT NULL DEFAULT 0 CHECK (share_count >= 0),
    ADD COLUMN view_count    integer NOT NULL DEFAULT 0 CHECK (view_count >= 0),     -- from view events (a job)
    ADD COLUMN essence_at    timestamptz,
    ADD COLUMN essence_by    bigint REFERENCES users (id),
    ADD COLUMN edited_at     timestamptz,
    ADD COLUMN deleted_by    bigint REFERENCES users (id),
    -- When the post first became visible and was recorded as the member's activity (never twice).
    ADD COLUMN counted_at    timestamptz,
    ADD COLUMN check_label   integer,  -- WeChat's content-safety label of a held or rejected text
    ADD COLUMN hot_rank      double precision
        GENERATED ALWAYS AS (feed_hot_rank(like_count, comment_count, share_count, created_at)) STORED,
    ADD CONSTRAINT posts_status CHECK (status IN ('visible', 'pending', 'rejected')),
    ADD CONSTRAINT posts_link_pair CHECK ((link_kind IS NULL) = (link_id IS NULL));

CREATE INDEX posts_community_hot ON posts (community_id, hot_rank DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX posts_community_essence ON posts (community_id, essence_at DESC, id DESC)
    WHERE essence_at IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX posts_by_author ON posts (community_id, author_id, created_at) WHERE author_id IS NOT NULL;

ALTER TABLE comments
    ADD COLUMN reply_to_id  bigint REFERENCES comments (id),  -- the comment answered (parent_id: its thread)
    ADD COLUMN reply_count  integer NOT NULL DEFAULT 0 CHECK (reply_count >= 0),  -- visible replies by members
    ADD COLUMN deleted_by   bigint REFERENCES users (id),
    ADD COLUMN counted_at   timestamptz,
    ADD COLUMN check_label  integer;

-- The first comments of each feed item, and the replies of a thread.
CREATE INDEX comments_preview ON comments (post_id, created_at, id)
    WHERE parent_id IS NULL AND deleted_at IS NULL AND status = 'visible';
CREATE INDEX comments_replies ON comments (parent_id, created_at, id) WHERE parent_id IS NOT NULL;
CREATE INDEX comments_by_author ON comments (community_id, author_id, created_at) WHERE author_id IS NOT NULL;

CREATE TABLE post_likes (
    post_id       bigint NOT NULL REFERENCES posts (id),
    user_id       bigint NOT NULL REFERENCES users (id),
    community_id  bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, user_id)
);

-- Every share with where it went, so referrals (share_open events, invites) can be scored per target.
CREATE TABLE post_shares (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id       bigint NOT NULL REFERENCES posts (id),
    community_id  bigint NOT NULL,
    user_id       bigint NOT NULL REFERENCES users (id),
    target        text NOT NULL CHECK (target IN ('chat', 'group', 'moments', 'favorite', 'other')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX post_shares_of_post ON post_shares (post_id);
CREATE INDEX post_shares_by_member ON post_shares (community_id, user_id, created_at);

-- The weekly essence digest: one row per community and week (the job's idempotency), with its post.
CREATE TABLE feed_digests (
    community_id  bigint NOT NULL REFERENCES communities (id),
    week_start    date NOT NULL,            -- Monday, in the metrics time zone
    post_id       bigint REFERENCES posts (id),  -- NULL: nothing was engaging enough that week
    post_ids      bigint[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, week_start)
);

-- "Someone commented on my post / replied to my comment": recorded whether or not a message went out.
CREATE TABLE feed_notifications (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id),
    community_id  bigint NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('comment', 'reply')),
    post_id       bigint NOT NULL REFERENCES posts (id),
    comment_id    bigint NOT NULL REFERENCES comments (id),
    actor_id      bigint NOT NULL REFERENCES users (id),
    -- queued -> sent | no_consent (43101: never retried) | failed (gave up); muted: the member muted the community
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'sent', 'no_consent', 'muted', 'failed')),
    errcode       integer,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    UNIQUE (comment_id, user_id)
);
CREATE INDEX feed_notifications_of_user ON feed_notifications (user_id, id DESC);

-- Texts held 'pending' because WeChat's check could not be had: the recheck job works through them.
CREATE TABLE content_checks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id     bigint REFERENCES posts (id),
    comment_id  bigint REFERENCES comments (id),
    attempts    integer NOT NULL DEFAULT 0,
    next_at     timestamptz NOT NULL DEFAULT now(),
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((post_id IS NULL) <> (comment_id IS NULL))
);
CREATE UNIQUE INDEX content_checks_post ON content_checks (post_id) WHERE post_id IS NOT NULL;
CREATE UNIQUE INDEX content_checks_comment ON content_checks (comment_id) WHERE comment_id IS NOT NULL;
CREATE INDEX content_checks_due ON content_checks (next_at);

-- Keyword auto-reply rules of a community, managed by its admins. Deleted rules are kept for the reply log.
CREATE TABLE robot_rules (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id      bigint NOT NULL REFERENCES communities (id),
    keyword           text NOT NULL CHECK (char_length(keyword) BETWEEN 1 AND 100),
    match_mode        text NOT NULL CHECK (match_mode IN ('exact', 'contains', 'regex')),
    reply             text NOT NULL CHECK (char_length(reply) BETWEEN 1 AND 500),
    enabled           boolean NOT NULL DEFAULT true,
    cooldown_seconds  integer NOT NULL DEFAULT 300 CHECK (cooldown_seconds BETWEEN 0 AND 604800),
    created_by        bigint NOT NULL REFERENCES users (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz
);
CREATE INDEX robot_rules_of_community ON robot_rules (community_id, id) WHERE deleted_at IS NULL;

-- When a rule last answered a member ('user:<id>', or 'openid:<openid>' for a stranger writing to customer
-- service): one conditional upsert both checks and takes the cooldown, so concurrent posts reply once.
CREATE TABLE robot_cooldowns (
    rule_id        bigint NOT NULL REFERENCES robot_rules (id),
    member         text NOT NULL,
    last_reply_at  timestamptz NOT NULL,
    PRIMARY KEY (rule_id, member)
);

-- Every robot answer: in the feed (the robot's comment) or through customer service (a custom message).
CREATE TABLE robot_replies (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id           bigint NOT NULL REFERENCES robot_rules (id),
    community_id      bigint NOT NULL,
    channel           text NOT NULL CHECK (channel IN ('feed', 'customer_service')),
    user_id           bigint REFERENCES users (id),
    post_id           bigint REFERENCES posts (id),        -- feed: the post that matched, or the comment's post
    comment_id        bigint REFERENCES comments (id),     -- feed: the comment that matched
    reply_comment_id  bigint REFERENCES comments (id),     -- feed: the robot's comment
    message_id        bigint,                              -- customer service: wechat_messages.id
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX robot_replies_of_rule ON robot_replies (rule_id, id DESC);

-- Customer-service messages pushed by WeChat. WeChat retries a push it thinks unanswered: msg_key makes
-- a retry a no-op.
CREATE TABLE wechat_messages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msg_key      text NOT NULL UNIQUE,   -- MsgId, or FromUserName:CreateTime when there is none
    openid       text NOT NULL,
    msg_type     text NOT NULL,
    content      text NOT NULL DEFAULT '',
    rule_id      bigint REFERENCES robot_rules (id),  -- the rule chosen to answer (a retried send reuses it)
    status       text NOT NULL DEFAULT 'received'
                 CHECK (status IN ('received', 'replied', 'no_match', 'cooldown', 'failed')),
    received_at  timestamptz NOT NULL DEFAULT now(),
    handled_at   timestamptz
);

-- Views per post, for the counters the view job keeps on the post rows.
CREATE INDEX interaction_events_post_views ON interaction_events (post_id)
    WHERE post_id IS NOT NULL AND kind IN ('post_view', 'page_view');
