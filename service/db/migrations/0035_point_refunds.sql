-- A trial place bought with check-in points (0033) that expires unclaimed gives its points back and its place back
-- to the poll's offer (docs/polls.md, "Trial places for points"). The ledger stays append-only: the spend is never
-- changed; a compensating row here, one at most per spend, says it was refunded. The balance: points earned minus
-- the member's spends in the brand plus their refunds; a place whose spend was refunded no longer counts among the
-- poll's redeemed places.
CREATE TABLE point_refunds (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    spend_id          bigint NOT NULL UNIQUE REFERENCES point_spends (id),
    user_id           bigint NOT NULL REFERENCES users (id),
    brand_id          bigint NOT NULL REFERENCES brands (id),
    community_id      bigint NOT NULL REFERENCES communities (id),  -- the spend's (its Citus shard)
    poll_id           bigint NOT NULL REFERENCES polls (id),
    qualification_id  bigint NOT NULL UNIQUE REFERENCES trial_qualifications (id),
    points            integer NOT NULL CHECK (points > 0),
    reason            text NOT NULL CHECK (reason IN ('expired')),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX point_refunds_of_member ON point_refunds (user_id, brand_id);

-- Places that expired unclaimed before this migration are refunded now, as the expiry job refunds them from here on.
INSERT INTO point_refunds (spend_id, user_id, brand_id, community_id, poll_id, qualification_id, points, reason)
SELECT s.id, s.user_id, s.brand_id, s.community_id, s.poll_id, s.qualification_id, s.points, 'expired'
FROM point_spends s JOIN trial_qualifications t ON t.id = s.qualification_id AND t.community_id = s.community_id
WHERE t.status = 'expired';
