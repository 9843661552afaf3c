-- Check-in points spent on free-trial places (docs/brands.md, docs/polls.md "Trial places for points"): a brand's
-- switch allows it, a naming poll of the brand offers places at a price, a member redeems one with the points
-- earned by check-ins in the brand's communities. The balance is computed: earned (check_ins.points in the brand's
-- communities) minus spent (point_spends of the brand); the ledger only grows.
ALTER TABLE brands ADD COLUMN points_spendable boolean NOT NULL DEFAULT false;

ALTER TABLE polls
    ADD COLUMN trial_points_price integer CHECK (trial_points_price BETWEEN 1 AND 100000),
    ADD COLUMN trial_points_places integer CHECK (trial_points_places BETWEEN 1 AND 500),
    ADD CONSTRAINT polls_trial_points_offer CHECK ((trial_points_price IS NULL) = (trial_points_places IS NULL));

ALTER TABLE trial_qualifications DROP CONSTRAINT trial_qualifications_reason_check;
ALTER TABLE trial_qualifications ADD CONSTRAINT trial_qualifications_reason_check
    CHECK (reason IN ('winner', 'top_proposer', 'drawn_voter', 'redeemed'));

-- One row per redeemed place: who spent how many points of which brand, for which qualification.
CREATE TABLE point_spends (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           bigint NOT NULL REFERENCES users (id),
    brand_id          bigint NOT NULL REFERENCES brands (id),
    community_id      bigint NOT NULL REFERENCES communities (id),  -- the poll's (its Citus shard)
    poll_id           bigint NOT NULL REFERENCES polls (id),
    qualification_id  bigint NOT NULL UNIQUE REFERENCES trial_qualifications (id),
    points            integer NOT NULL CHECK (points > 0),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX point_spends_of_member ON point_spends (user_id, brand_id);

-- The balance sums a member's check-ins over the brand's communities.
CREATE INDEX check_ins_of_member ON check_ins (user_id, community_id);
