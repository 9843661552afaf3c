-- Product-naming polls, free-trial qualifications and trial feedback (service/polls, docs/polls.md).
-- Nothing here is ever deleted: proposals, votes (withdrawn ones too) and the poll's audit trail stay, so a
-- closed poll's result can be recomputed and checked from the rows.

CREATE TABLE polls (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id             bigint NOT NULL REFERENCES communities (id),
    created_by               bigint NOT NULL REFERENCES users (id),
    title                    text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 40),
    description              text NOT NULL DEFAULT '',
    image_urls               text[] NOT NULL DEFAULT '{}',
    -- Phases: proposing -> voting -> closed, at the deadlines (a job) or by an admin's hand.
    status                   text NOT NULL DEFAULT 'proposing' CHECK (status IN ('proposing', 'voting', 'closed')),
    proposals_close_at       timestamptz NOT NULL,
    voting_close_at          timestamptz NOT NULL,
    voting_opened_at         timestamptz,
    closed_at                timestamptz,
    closed_by                bigint REFERENCES users (id),  -- NULL when the deadline closed it
    votes_per_member         integer NOT NULL CHECK (votes_per_member BETWEEN 1 AND 20),
    proposals_per_member     integer NOT NULL CHECK (proposals_per_member BETWEEN 1 AND 10),
    allow_vote_changes       boolean NOT NULL DEFAULT true,
    anonymous_proposals      boolean NOT NULL DEFAULT true,
    -- Free-trial rules: the winning proposer, the next K distinct proposers, M voters drawn at random.
    trial_product            text NOT NULL DEFAULT '',
    reward_winning_proposer  boolean NOT NULL DEFAULT true,
    reward_top_proposers     integer NOT NULL DEFAULT 0 CHECK (reward_top_proposers BETWEEN 0 AND 50),
    reward_drawn_voters      integer NOT NULL DEFAULT 0 CHECK (reward_drawn_voters BETWEEN 0 AND 500),
    trial_claim_days         integer NOT NULL DEFAULT 14 CHECK (trial_claim_days BETWEEN 1 AND 90),
    -- Commit and reveal: the seed is drawn at creation and kept secret until the poll closes; its SHA-256
    -- is published from the start, so nobody can pick a seed once the voters are known.
    draw_seed                text NOT NULL,
    seed_commitment          text NOT NULL,
    draw_eligible            bigint[],       -- the voters the draw chose from, fixed at close
    total_votes              integer,        -- fixed at close
    voter_count              integer,        -- fixed at close
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT polls_phases_in_order CHECK (voting_close_at > proposals_close_at),
    CONSTRAINT polls_closed_iff_closed_at CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE INDEX polls_of_community ON polls (community_id, id DESC);

CREATE TABLE poll_proposals (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    poll_id       bigint NOT NULL REFERENCES polls (id),
    community_id  bigint NOT NULL REFERENCES communities (id),
    proposer_id   bigint NOT NULL REFERENCES users (id),
    name          text NOT NULL,                 -- as typed, trimmed
    name_key      text NOT NULL,                 -- normalised (service/polls/naming.py): duplicates collide here
    -- pending: WeChat asked for a human review; hidden: an admin hid it; merged: counted as merged_into.
    status        text NOT NULL DEFAULT 'visible' CHECK (status IN ('visible', 'pending', 'hidden', 'merged')),
    merged_into   bigint REFERENCES poll_proposals (id),
    moderated_by  bigint REFERENCES users (id),
    moderated_at  timestamptz,
    final_rank    integer,                       -- fixed at close (visible proposals only)
    final_votes   integer,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT poll_proposals_unique_name UNIQUE (poll_id, name_key),
    CONSTRAINT poll_proposals_merged_iff_target CHECK ((status = 'merged') = (merged_into IS NOT NULL))
);
CREATE INDEX poll_proposals_of_proposer ON poll_proposals (poll_id, proposer_id);

-- One row per member taking part: locked (FOR UPDATE) around each proposal and vote of that member, so the
-- per-member limits hold however many requests arrive at once.
CREATE TABLE poll_participants (
    poll_id        bigint NOT NULL REFERENCES polls (id),
    user_id        bigint NOT NULL REFERENCES users (id),
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (poll_id, user_id)
);

CREATE TABLE poll_votes (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    poll_id          bigint NOT NULL REFERENCES polls (id),
    proposal_id      bigint NOT NULL REFERENCES poll_proposals (id),
    user_id          bigint NOT NULL REFERENCES users (id),
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'withdrawn')),
    withdraw_reason  text CHECK (withdraw_reason IN ('member', 'changed', 'hidden', 'merged')),
    carried_from     bigint REFERENCES poll_votes (id),  -- the vote on a proposal merged into this one
    created_at       timestamptz NOT NULL DEFAULT now(),
    withdrawn_at     timestamptz,
    CONSTRAINT poll_votes_withdrawn_iff_time CHECK ((status = 'withdrawn') = (withdrawn_at IS NOT NULL))
);
-- One counted vote per member and proposal.
CREATE UNIQUE INDEX poll_votes_one_per_proposal ON poll_votes (proposal_id, user_id) WHERE status = 'active';
CREATE INDEX poll_votes_of_member ON poll_votes (poll_id, user_id) WHERE status = 'active';
CREATE INDEX poll_votes_of_poll ON poll_votes (poll_id, id);

-- Every proposal, vote, withdrawal, moderation and phase change, in order. Appended, never updated.
CREATE TABLE poll_audit (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    poll_id      bigint NOT NULL REFERENCES polls (id),
    actor_id     bigint REFERENCES users (id),  -- NULL when the system acted (a deadline)
    action       text NOT NULL,
    proposal_id  bigint,
    vote_id      bigint,
    subject_id   bigint,                        -- the member acted upon (e.g. a trial's holder)
    details      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX poll_audit_of_poll ON poll_audit (poll_id, id);

-- The robot posts of a poll in its community's feed: the announcement and the result.
CREATE TABLE poll_posts (
    poll_id  bigint NOT NULL REFERENCES polls (id),
    purpose  text NOT NULL CHECK (purpose IN ('announcement', 'result')),
    post_id  bigint NOT NULL REFERENCES posts (id),
    PRIMARY KEY (poll_id, purpose)
);

CREATE TABLE trial_qualifications (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    poll_id        bigint NOT NULL REFERENCES polls (id),
    community_id   bigint NOT NULL REFERENCES communities (id),
    user_id        bigint NOT NULL REFERENCES users (id),
    reason         text NOT NULL CHECK (reason IN ('winner', 'top_proposer', 'drawn_voter')),
    position       integer NOT NULL,           -- the proposal's rank, or the place in the draw
    -- 'granted' past expires_at reads as expired at once; a job writes it down at the deadline.
    status         text NOT NULL DEFAULT 'granted' CHECK (status IN ('granted', 'claimed', 'shipped', 'expired')),
    granted_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,       -- claim before this
    claimed_at     timestamptz,
    delivery_note  text,
    shipped_at     timestamptz,
    shipped_by     bigint REFERENCES users (id),
    shipping_note  text,
    UNIQUE (poll_id, user_id)
);
CREATE INDEX trial_qualifications_of_user ON trial_qualifications (user_id, id DESC);
CREATE INDEX trial_qualifications_of_poll ON trial_qualifications (poll_id, id);

CREATE TABLE trial_feedback (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    qualification_id  bigint NOT NULL UNIQUE REFERENCES trial_qualifications (id),
    poll_id           bigint NOT NULL REFERENCES polls (id),
    community_id      bigint NOT NULL REFERENCES communities (id),
    user_id           bigint NOT NULL REFERENCES users (id),
    rating            smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    text              text NOT NULL DEFAULT '',
    image_urls        text[] NOT NULL DEFAULT '{}',
    content_status    text NOT NULL DEFAULT 'pass' CHECK (content_status IN ('pass', 'review')),
    post_id           bigint REFERENCES posts (id),  -- set when the holder shares it to the feed
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trial_feedback_of_poll ON trial_feedback (poll_id, id);
