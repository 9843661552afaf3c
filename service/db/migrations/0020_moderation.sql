-- Moderation: members report posts, comments, members and communities; a case gathers the reports on one
-- target (and content WeChat's check held for review) until an admin, or the platform operator, decides it.

-- One case per target at a time: a decided case stays as the record, a later report opens a new one.
CREATE TABLE moderation_cases (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id  bigint NOT NULL REFERENCES communities (id),
    -- Reports against a community, its owner or its admins go to the platform operator, the rest to its admins.
    queue         text NOT NULL CHECK (queue IN ('community', 'operator')),
    target_kind   text NOT NULL CHECK (target_kind IN ('post', 'comment', 'member', 'community')),
    target_id     bigint NOT NULL,
    author_id     bigint REFERENCES users (id),  -- whose content or conduct; null for robots and communities
    review        boolean NOT NULL DEFAULT false,  -- WeChat's check answered `review`
    hidden        boolean NOT NULL DEFAULT false,  -- hidden when distinct reporters reached the threshold
    reporters     integer NOT NULL DEFAULT 0,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'approved', 'removed')),
    decided_by    bigint REFERENCES users (id),  -- null with a decision: the platform operator
    reason        text NOT NULL DEFAULT '',  -- the decision's reason, shown to the author of removed content
    opened_at     timestamptz NOT NULL DEFAULT now(),
    decided_at    timestamptz,
    notified_at   timestamptz,  -- the author and the reporters were sent the outcome (once)
    CHECK ((status = 'open') = (decided_at IS NULL))
);
CREATE UNIQUE INDEX moderation_cases_one_open ON moderation_cases (target_kind, target_id) WHERE status = 'open';
CREATE INDEX moderation_cases_queue ON moderation_cases (community_id, queue, id DESC) WHERE status = 'open';
CREATE INDEX moderation_cases_operator ON moderation_cases (id DESC) WHERE status = 'open' AND queue = 'operator';
CREATE INDEX moderation_cases_author ON moderation_cases (author_id, id DESC) WHERE status = 'removed';

CREATE TABLE reports (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reporter_id   bigint NOT NULL REFERENCES users (id),
    community_id  bigint NOT NULL,
    case_id       bigint NOT NULL REFERENCES moderation_cases (id),
    target_kind   text NOT NULL,
    target_id     bigint NOT NULL,
    reason        text NOT NULL
                  CHECK (reason IN ('spam', 'abuse', 'pornography', 'fraud', 'illegal', 'other')),
    note          text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (reporter_id, target_kind, target_id)
);
CREATE INDEX reports_of_case ON reports (case_id);
CREATE INDEX reports_of_reporter ON reports (reporter_id, id DESC);

-- Every decision and every sanction taken from a case, by whom and why (the audit trail).
CREATE TABLE moderation_actions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id       bigint NOT NULL REFERENCES moderation_cases (id),
    community_id  bigint NOT NULL,
    actor_id      bigint REFERENCES users (id),  -- null: the platform operator
    action        text NOT NULL CHECK (action IN ('approve', 'remove', 'mute_author', 'remove_author')),
    reason        text NOT NULL DEFAULT '',
    details       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderation_actions_of_case ON moderation_actions (case_id, id);
