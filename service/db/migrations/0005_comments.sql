-- Comments on posts, with one level of replies. The feed extends this table; the metrics read these
-- columns (docs/metrics.md): robots have no author, only 'visible' and undeleted comments count.
CREATE TABLE comments (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id  bigint NOT NULL REFERENCES communities (id),
    post_id       bigint NOT NULL REFERENCES posts (id),
    parent_id     bigint REFERENCES comments (id),  -- the comment this one replies to
    author_id     bigint REFERENCES users (id),     -- NULL for robots
    robot         text,                             -- the robot that wrote it, NULL for members
    text          text NOT NULL,
    status        text NOT NULL DEFAULT 'visible' CHECK (status IN ('visible', 'pending', 'rejected')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    CHECK ((author_id IS NULL) <> (robot IS NULL))
);
CREATE INDEX comments_of_post ON comments (post_id, created_at, id);
CREATE INDEX comments_community_time ON comments (community_id, created_at);
CREATE INDEX posts_community_time ON posts (community_id, created_at);
