-- Member rewards are paid by merchant transfer (service/checkout); the allocation points at its transfer.
ALTER TABLE reward_allocations ADD COLUMN transfer_id bigint REFERENCES transfers (id);
CREATE UNIQUE INDEX reward_allocations_transfer ON reward_allocations (transfer_id) WHERE transfer_id IS NOT NULL;
