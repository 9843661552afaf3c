"""SQL of the rewards: pools, their allocation to communities and members, and the transfers that pay them."""

INSERT_POOL = """
INSERT INTO reward_pools (amount_fen, window_from, window_to, community_ids, min_score, min_effective_speakers,
                          created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING *
"""

POOL = "SELECT * FROM reward_pools WHERE id = $1"
LOCK_POOL = "SELECT * FROM reward_pools WHERE id = $1 FOR UPDATE"

# A brand's pool ($2): the brand's communities only.
CANDIDATE_COMMUNITIES = """
SELECT id FROM communities
WHERE ($1::bigint[] IS NULL OR id = ANY($1::bigint[])) AND ($2::bigint IS NULL OR brand_id = $2)
ORDER BY id
"""

# A member share of 0 fen owes nothing: it is settled at once.
INSERT_ALLOCATIONS = """
INSERT INTO reward_allocations (pool_id, community_id, user_id, amount_fen, basis, status)
SELECT $1, community_id, user_id, amount_fen, basis,
       CASE WHEN user_id IS NOT NULL AND amount_fen = 0 THEN 'paid' ELSE 'owed' END
FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::float8[]) AS a (community_id, user_id, amount_fen, basis)
"""

# Where the metrics roll-up got to (logic.rollup_incremental): the start of its last run; None before the first.
ROLLUP_WATERMARK = "SELECT watermark FROM rollup_state WHERE name = 'daily'"

COMMIT_POOL = "UPDATE reward_pools SET status = 'committed', committed_at = now() WHERE id = $1"

POOL_ALLOCATIONS = """
SELECT community_id, user_id, amount_fen, basis, status FROM reward_allocations
WHERE pool_id = $1 ORDER BY community_id, user_id NULLS FIRST
"""

PAYABLE_ALLOCATIONS = """
SELECT id, community_id, user_id, amount_fen, transfer_id FROM reward_allocations
WHERE pool_id = $1 AND user_id IS NOT NULL AND amount_fen >= $2 AND transfer_id IS NULL ORDER BY id
"""

# The members with a reward under WeChat's minimum ($2) in the pool, per community, in the order their small rewards
# are locked (LOCK_SMALL_REWARDS): two commits lock them in the same order.
SMALL_PAYEES = """
SELECT DISTINCT community_id, user_id FROM reward_allocations
WHERE pool_id = $1 AND user_id IS NOT NULL AND status = 'owed' AND amount_fen < $2
ORDER BY community_id, user_id
"""

# The member's owed rewards under WeChat's minimum ($3) in a community, locked oldest first: paid together.
LOCK_SMALL_REWARDS = """
SELECT id, community_id, user_id, amount_fen, transfer_id FROM reward_allocations
WHERE community_id = $1 AND user_id = $2 AND status = 'owed' AND amount_fen < $3
ORDER BY id FOR UPDATE
"""

MY_REWARD = "SELECT id, community_id, amount_fen FROM reward_allocations WHERE id = $1 AND user_id = $2"

LOCK_OWED_REWARD = """
SELECT id, community_id, user_id, amount_fen, transfer_id FROM reward_allocations
WHERE community_id = $1 AND id = $2 AND status = 'owed'
FOR UPDATE
"""

SET_ALLOCATION_TRANSFER = """
UPDATE reward_allocations SET transfer_id = $3 WHERE community_id = $1 AND id = ANY($2::bigint[])
"""

MARK_TRANSFER_PAID = """
UPDATE reward_allocations SET status = 'paid' WHERE transfer_id = $1 AND status = 'owed'
RETURNING community_id
"""

# A transfer that failed or was returned: its rewards are owed with no transfer, to be sent again.
RELEASE_TRANSFER = "UPDATE reward_allocations SET transfer_id = NULL WHERE transfer_id = $1 AND status = 'owed'"

# Why an owed reward is not paid yet ($4: WeChat's minimum): see MyReward.owed_reason.
MY_REWARDS = """
SELECT a.id, a.pool_id, a.community_id, a.amount_fen, a.status, a.transfer_id, a.created_at, p.window_from,
       p.window_to,
       CASE WHEN a.status = 'paid' THEN NULL
            WHEN a.transfer_id IS NOT NULL THEN 'transfer_open'
            WHEN a.amount_fen < $4 AND (
                SELECT sum(s.amount_fen) FROM reward_allocations s
                WHERE s.community_id = a.community_id AND s.user_id = a.user_id AND s.status = 'owed'
                  AND s.amount_fen < $4 AND s.transfer_id IS NULL
            ) < $4 THEN 'below_minimum'
            ELSE 'transferable'
       END AS owed_reason
FROM reward_allocations a JOIN reward_pools p ON p.id = a.pool_id
WHERE a.user_id = $1 AND ($2::bigint IS NULL OR a.id < $2)
ORDER BY a.id DESC LIMIT $3
"""

TRANSFER_PAID_REWARDS = "SELECT count(*) FROM reward_allocations WHERE transfer_id = $1 AND status = 'paid'"
