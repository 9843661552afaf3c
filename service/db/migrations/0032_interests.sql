-- Members' interests (docs/interests.md): keywords of what they write, kept per member and community with a decayed
-- weight, the community's top tags, the tags of each post (the for-you feed), how far the extraction job has read
-- each source, a member's opt-out of the robot's introductions, and the warm-up robot's nudges (caps, never twice).

-- weight: the sum over the member's texts carrying the tag of 2^(-age / half-life), as of weighed_at.
CREATE TABLE member_interests (
    community_id  bigint NOT NULL REFERENCES communities (id),
    user_id       bigint NOT NULL REFERENCES users (id),
    tag           text NOT NULL,
    weight        double precision NOT NULL,
    weighed_at    timestamptz NOT NULL,
    PRIMARY KEY (community_id, user_id, tag)
);
CREATE INDEX member_interests_tag ON member_interests (community_id, tag);

CREATE TABLE community_interests (
    community_id  bigint NOT NULL REFERENCES communities (id),
    tag           text NOT NULL,
    weight        double precision NOT NULL,
    members       integer NOT NULL,
    computed_at   timestamptz NOT NULL,
    PRIMARY KEY (community_id, tag)
);

CREATE TABLE post_tags (
    community_id  bigint NOT NULL REFERENCES communities (id),
    post_id       bigint NOT NULL REFERENCES posts (id),
    tag           text NOT NULL,
    PRIMARY KEY (post_id, tag)
);
CREATE INDEX post_tags_tag ON post_tags (community_id, tag, post_id);

-- The last id read per source table (posts, comments, proposals).
CREATE TABLE interest_progress (
    source      text PRIMARY KEY,
    last_id     bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- No row: the member accepts introductions and topic prompts.
CREATE TABLE interest_preferences (
    user_id        bigint PRIMARY KEY REFERENCES users (id),
    introductions  boolean NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per member told: an introduction makes two (each names the other), a prompt one.
CREATE TABLE warmup_nudges (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id  bigint NOT NULL REFERENCES communities (id),
    user_id       bigint NOT NULL REFERENCES users (id),
    other_id      bigint REFERENCES users (id),
    kind          text NOT NULL CHECK (kind IN ('introduction', 'prompt')),
    tag           text NOT NULL,
    post_id       bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'introduction') = (other_id IS NOT NULL))
);
CREATE INDEX warmup_nudges_member ON warmup_nudges (user_id, created_at);
CREATE INDEX warmup_nudges_community ON warmup_nudges (community_id, created_at);
