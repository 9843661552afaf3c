-- The growth loop: a share's short code (the link a non-member opens, attributed to the sharer), which share
-- brought a referred member, and invite posters (mini-program codes) cached per community and scene.
-- 72 random bits: unique in practice; a unique index would have to carry community_id under Citus.
ALTER TABLE post_shares ADD COLUMN code text;
CREATE INDEX post_shares_code ON post_shares (code) WHERE code IS NOT NULL;

-- A referral is credited once, at the referred member's first admission (after payment, for paid entry).
ALTER TABLE referrals ADD COLUMN share_id bigint;
-- The share a paid entry order or a join request came through, credited when the payment or the approval admits.
ALTER TABLE community_entries ADD COLUMN share_id bigint;
ALTER TABLE join_requests ADD COLUMN share_id bigint;

CREATE TABLE invite_posters (
    community_id  bigint NOT NULL REFERENCES communities (id),
    scene         text NOT NULL,
    storage_key   text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, scene)
);

-- The stage is one value: computed by the daily job over the last 30 local days, kept with the figures it came
-- from (the advice shown to admins reads them), and with the stage it left and when.
ALTER TABLE community_stages
    ADD COLUMN totals         jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN window_from    date,
    ADD COLUMN window_to      date,
    ADD COLUMN previous_stage text,
    ADD COLUMN changed_at     timestamptz NOT NULL DEFAULT now();
