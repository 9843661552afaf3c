-- A member's small rewards of one community are paid together (service/interactions/rewards.py, docs/metrics.md):
-- several allocations may share one transfer, so its index is no longer unique.
DROP INDEX reward_allocations_transfer;
CREATE INDEX reward_allocations_transfer ON reward_allocations (transfer_id) WHERE transfer_id IS NOT NULL;

-- A reward whose transfer failed or was returned unconfirmed is released (no transfer): the member asks again.
UPDATE reward_allocations a SET transfer_id = NULL
FROM transfers t
WHERE t.community_id = a.community_id AND t.id = a.transfer_id AND a.status = 'owed'
  AND t.status IN ('failed', 'cancelled');

-- A member share of 0 fen owes nothing.
UPDATE reward_allocations SET status = 'paid' WHERE user_id IS NOT NULL AND amount_fen = 0 AND status = 'owed';
