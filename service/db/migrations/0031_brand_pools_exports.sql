-- Brand-funded reward pools (docs/brands.md): a brand's owner pays a pool through WeChat Pay (checkout purpose
-- `brand_reward_pool`); once paid it is split over the brand's communities like the operator's pools and committed
-- once. The operator's pools keep brand_id NULL and start as drafts, as before.
ALTER TABLE reward_pools
    ADD COLUMN brand_id bigint REFERENCES brands (id),
    ADD COLUMN funded_by bigint REFERENCES users (id),
    -- The community the pool's orders belong to (an order needs one: its Citus shard): the brand's first
    -- community when the pool was created. No foreign key: reward_pools is a reference table under Citus.
    ADD COLUMN order_community_id bigint,
    ADD COLUMN order_id bigint,  -- the order that paid it (no foreign key: orders are distributed)
    ADD COLUMN idempotency_key text,
    ADD COLUMN paid_at timestamptz,
    ADD COLUMN cancelled_at timestamptz,
    ADD CHECK ((brand_id IS NULL) = (funded_by IS NULL)),
    ADD CHECK (brand_id IS NULL OR order_community_id IS NOT NULL);
-- unpaid: a brand's pool waiting for its payment; draft: ready to commit (paid, or the operator's);
-- cancelled: a brand's pool called off before commit (refunded in full when it was paid).
ALTER TABLE reward_pools DROP CONSTRAINT reward_pools_status_check;
ALTER TABLE reward_pools ADD CONSTRAINT reward_pools_status_check
    CHECK (status IN ('unpaid', 'draft', 'committed', 'cancelled'));
CREATE INDEX reward_pools_of_brand ON reward_pools (brand_id, id) WHERE brand_id IS NOT NULL;
CREATE UNIQUE INDEX reward_pools_idempotency ON reward_pools (funded_by, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- CSV exports (docs/brands.md): a brand's downloads record their window too (a community's go to its audit log).
ALTER TABLE brand_exports ADD COLUMN window_from date, ADD COLUMN window_to date;
