-- Communities and belonging to one: memberships, join requests, invite links, referrals, the audit log,
-- the posts table the feed extends, and idempotency keys for POSTs that move membership or money.
-- Every community-owned row carries community_id: the distribution key if the data outgrows one server.

CREATE TABLE communities (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id               bigint NOT NULL REFERENCES users (id),
    name                   text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 40),
    description            text NOT NULL DEFAULT '',
    cover_url              text NOT NULL DEFAULT '',
    tags                   text[] NOT NULL DEFAULT '{}',
    visibility             text NOT NULL DEFAULT 'listed' CHECK (visibility IN ('listed', 'unlisted')),
    entry_mode             text NOT NULL DEFAULT 'free' CHECK (entry_mode IN ('free', 'approval', 'paid')),
    price_fen              integer CHECK (price_fen > 0),
    -- 500 is the documented hard maximum (models.MEMBER_CAP_MAX); WeChat groups stop at 500 too.
    member_cap             integer NOT NULL DEFAULT 100 CHECK (member_cap BETWEEN 1 AND 500),
    -- Active members, changed only under this row's lock (see communities.logic.admit).
    member_count           integer NOT NULL DEFAULT 0 CHECK (member_count >= 0),
    welcome_template       text NOT NULL,
    introduction_required  boolean NOT NULL DEFAULT false,
    introduction_prompt    text NOT NULL DEFAULT '',
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT communities_price_iff_paid CHECK ((entry_mode = 'paid') = (price_fen IS NOT NULL)),
    CONSTRAINT communities_within_cap CHECK (member_count <= member_cap)
);
CREATE INDEX communities_listed ON communities (id DESC) WHERE visibility = 'listed';
CREATE INDEX communities_listed_tags ON communities USING gin (tags) WHERE visibility = 'listed';

-- Posts: the minimum the welcome ceremony and introductions need; the feed adds its columns and kinds.
CREATE TABLE posts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id  bigint NOT NULL REFERENCES communities (id),
    author_id     bigint REFERENCES users (id),  -- NULL for robots
    robot         text,                          -- the robot that wrote it (e.g. 'welcome'), NULL for members
    kind          text NOT NULL DEFAULT 'post',  -- 'post' | 'introduction' | 'welcome', more from the feed
    text          text NOT NULL DEFAULT '',
    image_urls    text[] NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'visible',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    CONSTRAINT posts_member_or_robot CHECK ((author_id IS NULL) <> (robot IS NULL))
);
CREATE INDEX posts_community_recent ON posts (community_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

-- One row per (community, user), kept after leaving so a re-join reuses it and history stays in the audit log.
CREATE TABLE memberships (
    community_id          bigint NOT NULL REFERENCES communities (id),
    user_id               bigint NOT NULL REFERENCES users (id),
    role                  text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    status                text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'left', 'removed')),
    via                   text NOT NULL CHECK (via IN ('owner', 'free', 'approval', 'invite', 'paid')),
    joined_at             timestamptz NOT NULL DEFAULT now(),
    left_at               timestamptz,
    removed_by            bigint REFERENCES users (id),
    muted_until           timestamptz,                    -- set by admins: no posting until then
    notifications_muted   boolean NOT NULL DEFAULT false, -- set by the member
    unfollowed            boolean NOT NULL DEFAULT false, -- set by the member: stays, hidden from "my feed"
    last_read_at          timestamptz NOT NULL DEFAULT now(),
    welcome_post_id       bigint REFERENCES posts (id),
    introduction_post_id  bigint REFERENCES posts (id),
    introduced_at         timestamptz,
    PRIMARY KEY (community_id, user_id),
    CONSTRAINT memberships_left_iff_inactive CHECK ((status = 'active') = (left_at IS NULL))
);
CREATE INDEX memberships_of_user ON memberships (user_id) WHERE status = 'active';
CREATE UNIQUE INDEX memberships_one_owner ON memberships (community_id) WHERE role = 'owner';
CREATE INDEX memberships_newcomers ON memberships (community_id, joined_at DESC) WHERE status = 'active';

CREATE TABLE join_requests (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id  bigint NOT NULL REFERENCES communities (id),
    user_id       bigint NOT NULL REFERENCES users (id),
    message       text NOT NULL DEFAULT '',
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled')),
    reason        text NOT NULL DEFAULT '',       -- why it was rejected
    decided_by    bigint REFERENCES users (id),
    decided_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX join_requests_one_pending ON join_requests (community_id, user_id) WHERE status = 'pending';
CREATE INDEX join_requests_of_community ON join_requests (community_id, status, id);
CREATE INDEX join_requests_of_user ON join_requests (community_id, user_id, id DESC);

CREATE TABLE invites (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id  bigint NOT NULL REFERENCES communities (id),
    code          text NOT NULL,
    created_by    bigint NOT NULL REFERENCES users (id),
    max_uses      integer NOT NULL CHECK (max_uses BETWEEN 1 AND 500),
    uses          integer NOT NULL DEFAULT 0,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (community_id, code),
    CONSTRAINT invites_within_limit CHECK (uses BETWEEN 0 AND max_uses)
);
CREATE INDEX invites_of_creator ON invites (community_id, created_by);

-- Who brought whom into a community, for referral rewards: the first referral of a member counts.
CREATE TABLE referrals (
    community_id  bigint NOT NULL REFERENCES communities (id),
    referred_id   bigint NOT NULL REFERENCES users (id),
    referrer_id   bigint NOT NULL REFERENCES users (id),
    invite_id     bigint REFERENCES invites (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, referred_id)
);
CREATE INDEX referrals_by_referrer ON referrals (community_id, referrer_id);

-- Membership and role changes: who did what to whom, when. Appended, never updated.
CREATE TABLE community_audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id  bigint NOT NULL REFERENCES communities (id),
    actor_id      bigint REFERENCES users (id),   -- NULL when the system acted (e.g. after a payment)
    action        text NOT NULL,
    subject_id    bigint REFERENCES users (id),   -- the member acted upon
    details       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX community_audit_log_recent ON community_audit_log (community_id, id DESC);

-- Answers of POSTs sent with an Idempotency-Key, so a retry gets the first answer (service/idempotency.py).
CREATE TABLE idempotent_requests (
    user_id      bigint NOT NULL,
    key          text NOT NULL,
    scope        text NOT NULL,       -- the operation and a digest of its input: a key is for one request
    status_code  integer,
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotent_requests_age ON idempotent_requests (created_at);
