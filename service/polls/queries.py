"""SQL of naming polls and free trials. Read queries cast ids to text: they go to the wire as strings."""

from service.core.access import role_of
from service.core.media import APPROVED_IMAGES_JSON, IMAGES_JSON

# --- polls -------------------------------------------------------------------------------------------------

INSERT_POLL = """
INSERT INTO polls (community_id, created_by, title, description, image_ids, proposals_close_at, voting_close_at,
                   votes_per_member, proposals_per_member, allow_vote_changes, anonymous_proposals, trial_product,
                   reward_winning_proposer, reward_top_proposers, reward_drawn_voters, trial_claim_days,
                   draw_seed, seed_commitment, trial_points_price, trial_points_places)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
RETURNING id
"""

# The poll as the API shows it; "accepting" uses the database clock, the one the deadline jobs run by. Its photos
# twice: all of them (for its admins) and those WeChat approved (for members), URLs as placeholders.
_POLL_SELECT = f"""
SELECT p.id::text AS id, p.community_id::text AS community_id, p.created_by::text AS created_by, p.title,
       p.description, p.image_urls, p.status,
       {IMAGES_JSON.format(ids="p.image_ids")}::text AS images,
       {APPROVED_IMAGES_JSON.format(ids="p.image_ids")}::text AS approved_images,
       p.status = 'proposing' AND now() < p.proposals_close_at AS accepting_proposals,
       p.status = 'voting' AND now() < p.voting_close_at AS accepting_votes,
       p.proposals_close_at, p.voting_close_at, p.voting_opened_at, p.closed_at, p.votes_per_member,
       p.proposals_per_member, p.allow_vote_changes, p.anonymous_proposals, p.trial_product,
       p.reward_winning_proposer, p.reward_top_proposers, p.reward_drawn_voters, p.trial_claim_days,
       p.seed_commitment, p.created_at, p.id AS sort_id, p.trial_points_price, p.trial_points_places,
       p.closed_at + make_interval(days => p.trial_claim_days) AS points_until,
       (SELECT count(*) FROM trial_qualifications t
        WHERE t.poll_id = p.id AND t.community_id = p.community_id AND t.reason = 'redeemed'
          AND NOT EXISTS (
              SELECT FROM point_refunds r WHERE r.qualification_id = t.id AND r.community_id = t.community_id
          ))::int AS points_redeemed,
       (SELECT count(*) FROM poll_proposals x
        WHERE x.poll_id = p.id AND x.community_id = p.community_id AND x.status = 'visible')::int AS proposal_count,
       (SELECT post_id::text FROM poll_posts o
        WHERE o.poll_id = p.id AND o.community_id = p.community_id AND o.purpose = 'announcement')
           AS announcement_post_id,
       (SELECT post_id::text FROM poll_posts o
        WHERE o.poll_id = p.id AND o.community_id = p.community_id AND o.purpose = 'result') AS result_post_id
FROM polls p
"""  # noqa: S608 - constant SQL fragments, assembled at import time

POLL = _POLL_SELECT + "WHERE p.id = $1"

POLLS_OF_COMMUNITY = (
    _POLL_SELECT
    + """
WHERE p.community_id = $1 AND ($2::text IS NULL OR p.status = $2) AND ($3::bigint IS NULL OR p.id < $3)
ORDER BY p.id DESC
LIMIT $4
"""
)

# The poll's state for a write. FOR SHARE (proposals, votes) lets members act together and makes a phase
# change (FOR UPDATE) wait for them: no vote commits after the poll closed. The locks name the community ($1,
# read first by POLL_COMMUNITY, a poll never moves; $2 the poll): Citus locks a row only on the one shard it names.
POLL_COMMUNITY = "SELECT community_id FROM polls WHERE id = $1"
_POLL_STATE = """
SELECT id, community_id, status, votes_per_member, proposals_per_member, allow_vote_changes,
       anonymous_proposals, proposals_close_at, voting_close_at,
       status = 'proposing' AND now() < proposals_close_at AS accepting_proposals,
       status = 'voting' AND now() < voting_close_at AS accepting_votes,
       status = 'proposing' AND now() >= proposals_close_at AS voting_due,
       status = 'voting' AND now() >= voting_close_at AS closing_due,
       now() >= voting_close_at AS voting_over
FROM polls
"""
POLL_STATE = _POLL_STATE + "WHERE id = $1"
POLL_STATE_SHARED = _POLL_STATE + "WHERE community_id = $1 AND id = $2 FOR SHARE"
POLL_STATE_LOCKED = _POLL_STATE + "WHERE community_id = $1 AND id = $2 FOR UPDATE"

POLL_FOR_CLOSING = """
SELECT id, community_id, title, trial_product, reward_winning_proposer, reward_top_proposers,
       reward_drawn_voters, trial_claim_days, draw_seed
FROM polls WHERE id = $1
"""

OPEN_VOTING = """
UPDATE polls SET status = 'voting', voting_opened_at = now(), updated_at = now()
WHERE id = $1 AND status = 'proposing'
"""

CLOSE_POLL = """
UPDATE polls SET status = 'closed', closed_at = now(), closed_by = $2, draw_eligible = $3, total_votes = $4,
       voter_count = $5, updated_at = now()
WHERE id = $1 AND status <> 'closed'
RETURNING closed_at
"""

INSERT_ROBOT_POST = """
INSERT INTO posts (community_id, robot, kind, text) VALUES ($1, 'poll', 'poll', $2) RETURNING id
"""

# The poll's rows copy its community_id in the same statement: the Citus distribution key (service/db/citus.sql).
INSERT_POLL_POST = """
INSERT INTO poll_posts (poll_id, community_id, purpose, post_id)
SELECT id, community_id, $2, $3 FROM polls WHERE id = $1
"""

INSERT_AUDIT = """
INSERT INTO poll_audit (poll_id, community_id, actor_id, action, proposal_id, vote_id, subject_id, details)
SELECT id, community_id, $2, $3, $4, $5, $6, $7 FROM polls WHERE id = $1
"""

# $2: the reader is an admin; $3 the reader. A member reads a proposal's name only where the list shows it to them:
# their own, a visible one, or one merged away that WeChat passed when it was made; never one held for WeChat's
# review (pending) nor one the admins hid, whose names went to nobody else.
AUDIT = """
SELECT a.id::text AS id, a.action, a.actor_id::text AS actor_id, a.proposal_id::text AS proposal_id,
       a.vote_id::text AS vote_id, a.subject_id::text AS subject_id,
       CASE WHEN $2 OR a.action <> 'proposal.created' OR p.proposer_id = $3 OR p.status = 'visible'
                 OR (p.status = 'merged' AND a.details ->> 'status' = 'visible')
            THEN a.details ELSE a.details - 'name' END AS details,
       a.created_at, a.id AS sort_id
FROM poll_audit a
LEFT JOIN poll_proposals p ON p.id = a.proposal_id AND p.community_id = a.community_id
WHERE a.poll_id = $1 AND ($4::bigint IS NULL OR a.id > $4)
ORDER BY sort_id  -- the number: a bare `id` here names the text column above ("100" before "99")
LIMIT $5
"""


# --- participation -----------------------------------------------------------------------------------------

# Creates and locks the member's participation row: their proposals and votes in this poll queue up here.
LOCK_PARTICIPANT = """
INSERT INTO poll_participants (poll_id, community_id, user_id) SELECT id, community_id, $2 FROM polls WHERE id = $1
ON CONFLICT ON CONSTRAINT poll_participants_pkey DO UPDATE SET poll_id = EXCLUDED.poll_id
"""

COUNT_MY_PROPOSALS = "SELECT count(*)::int FROM poll_proposals WHERE poll_id = $1 AND proposer_id = $2"

MY_ACTIVE_VOTES = """
SELECT proposal_id FROM poll_votes WHERE poll_id = $1 AND user_id = $2 AND status = 'active' ORDER BY id
"""

# --- proposals ---------------------------------------------------------------------------------------------

INSERT_PROPOSAL = """
INSERT INTO poll_proposals (poll_id, community_id, proposer_id, name, name_key, status)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT ON CONSTRAINT poll_proposals_unique_name DO NOTHING
RETURNING id
"""

# The proposal a new name duplicates; a merged one points at the proposal it now counts as.
PROPOSAL_BY_KEY = """
SELECT coalesce(merged_into, id) AS id FROM poll_proposals WHERE poll_id = $1 AND name_key = $2
"""

PROPOSAL = """
SELECT id, poll_id, proposer_id, status, merged_into FROM poll_proposals WHERE id = $1 AND poll_id = $2
"""

PROPOSALS_FOR_VOTING = """
SELECT id, status FROM poll_proposals WHERE poll_id = $1 AND id = ANY($2::bigint[])
"""

_PROPOSAL_SELECT = """
SELECT p.id::text AS id, p.poll_id::text AS poll_id, p.name, p.proposer_id, p.status,
       p.merged_into::text AS merged_into_id, p.final_votes AS votes, p.final_rank AS rank, p.created_at,
       p.proposer_id = $2 AS mine,
       EXISTS (
           SELECT 1 FROM poll_votes v
           WHERE v.proposal_id = p.id AND v.community_id = p.community_id AND v.user_id = $2 AND v.status = 'active'
       ) AS voted_by_me,
       p.id AS sort_id
FROM poll_proposals p
"""

PROPOSAL_VIEW = _PROPOSAL_SELECT + "WHERE p.poll_id = $1 AND p.id = $3"

# Members see the visible proposals and their own; admins ($3) see all.
PROPOSALS = (
    _PROPOSAL_SELECT
    + """
WHERE p.poll_id = $1 AND ($3 OR p.status = 'visible' OR p.proposer_id = $2) AND ($4::bigint IS NULL OR p.id > $4)
ORDER BY p.id
LIMIT $5
"""
)

SET_PROPOSAL_STATUS = """
UPDATE poll_proposals SET status = $3, moderated_by = $4, moderated_at = now() WHERE id = $1 AND poll_id = $2
"""

MERGE_PROPOSAL = """
UPDATE poll_proposals SET status = 'merged', merged_into = $3, moderated_by = $4, moderated_at = now()
WHERE id = $1 AND poll_id = $2
"""

# --- votes -------------------------------------------------------------------------------------------------

EVER_VOTED = "SELECT EXISTS (SELECT 1 FROM poll_votes WHERE proposal_id = $1 AND user_id = $2)"

INSERT_VOTE = """
INSERT INTO poll_votes (poll_id, community_id, proposal_id, user_id)
SELECT id, community_id, $2, $3 FROM polls WHERE id = $1
ON CONFLICT DO NOTHING  -- the active vote's key (poll_votes_one_per_proposal), named by no target for Citus
RETURNING id, created_at
"""

WITHDRAW_MY_VOTES = """
UPDATE poll_votes SET status = 'withdrawn', withdrawn_at = now(), withdraw_reason = $4
WHERE poll_id = $1 AND user_id = $2 AND proposal_id = ANY($3::bigint[]) AND status = 'active'
RETURNING id, proposal_id
"""

WITHDRAW_VOTES_ON = """
UPDATE poll_votes SET status = 'withdrawn', withdrawn_at = now(), withdraw_reason = $2
WHERE proposal_id = $1 AND status = 'active'
RETURNING id, user_id
"""

# Merging: every counted vote on the source moves to the target, unless its member already votes for the
# target (then the member gets that vote back). One statement, so the unique index never sees two. $3 the poll's
# community (Citus: one shard; an anti-join, as it takes no correlated subquery over a CTE).
CARRY_VOTES = """
WITH moved AS (
    UPDATE poll_votes SET status = 'withdrawn', withdrawn_at = now(), withdraw_reason = 'merged'
    WHERE proposal_id = $1 AND community_id = $3 AND status = 'active'
    RETURNING id, poll_id, community_id, user_id
)
INSERT INTO poll_votes (poll_id, community_id, proposal_id, user_id, carried_from)
SELECT moved.poll_id, moved.community_id, $2, moved.user_id, moved.id FROM moved
LEFT JOIN poll_votes v
    ON v.proposal_id = $2 AND v.community_id = moved.community_id AND v.user_id = moved.user_id AND v.status = 'active'
WHERE v.id IS NULL
RETURNING id
"""

COUNT_ACTIVE_VOTES_ON = "SELECT count(*)::int FROM poll_votes WHERE proposal_id = $1 AND status = 'active'"

# --- closing -----------------------------------------------------------------------------------------------

# The ranking, with its documented tie-break: more votes, then the earlier proposal, then the lower id.
# Only the votes of those who are members at the close count: one who left or was removed took their votes along.
# The votes that count at the close: those of voters who still stand in the community ($2, STANDING_VOTERS).
TALLY = """
SELECT p.id, p.proposer_id, p.name, p.created_at, count(v.id)::int AS votes
FROM poll_proposals p
LEFT JOIN poll_votes v
    ON v.proposal_id = p.id AND v.community_id = p.community_id AND v.status = 'active'
   AND v.user_id = ANY($2::bigint[])
WHERE p.poll_id = $1 AND p.status = 'visible'
GROUP BY p.id, p.proposer_id, p.name, p.created_at
ORDER BY votes DESC, p.created_at, p.id
"""

SET_FINAL_RANKS = """
UPDATE poll_proposals p SET final_rank = r.rank, final_votes = r.votes
FROM unnest($1::bigint[], $2::int[], $3::int[]) AS r (id, rank, votes)
WHERE p.id = r.id
"""

# Who voted ($1 community, $2 poll), and who of them still stands there at the close: an active member, or on the
# brand's team, who may vote member or not (the access rule, role_of); a vote of one gone before counts for nothing.
VOTERS = """
SELECT DISTINCT v.user_id FROM poll_votes v WHERE v.community_id = $1 AND v.poll_id = $2 AND v.status = 'active'
"""
STANDING_VOTERS = f"SELECT u FROM unnest($2::bigint[]) u WHERE {role_of('$1', 'u')} IS NOT NULL"  # noqa: S608

# Votes still standing at the close whose voters had gone ($2 those who stand; the record keeps them, the tally not).
UNCOUNTED_VOTES = """
SELECT count(*)::int FROM poll_votes v
JOIN poll_proposals p ON p.id = v.proposal_id AND p.community_id = v.community_id
WHERE v.poll_id = $1 AND v.status = 'active' AND p.status = 'visible' AND NOT v.user_id = ANY($2::bigint[])
"""

COMMUNITY_TIME_ZONE = "SELECT timezone FROM communities WHERE id = $1"

ACTIVE_MEMBERS_AMONG = """
SELECT user_id FROM memberships WHERE community_id = $1 AND status = 'active' AND user_id = ANY($2::bigint[])
"""

INSERT_QUALIFICATIONS = """
INSERT INTO trial_qualifications (poll_id, community_id, user_id, reason, position, granted_at, expires_at)
SELECT $1, $2, q.user_id, q.reason, q.position, $3::timestamptz, $3::timestamptz + make_interval(days => $4)
FROM unnest($5::bigint[], $6::text[], $7::int[]) AS q (user_id, reason, position)
ON CONFLICT DO NOTHING  -- once per poll and member (no target: Citus widens that key)
RETURNING id, user_id, reason, expires_at
"""

RANKING = """
SELECT p.final_rank AS rank, p.id::text AS proposal_id, p.name, p.proposer_id::text AS proposer_id,
       coalesce(u.nickname, '') AS proposer_nickname, p.final_votes AS votes, p.created_at
FROM poll_proposals p JOIN users u ON u.id = p.proposer_id
WHERE p.poll_id = $1 AND p.final_rank IS NOT NULL
ORDER BY p.final_rank
"""

CLOSED_POLL = """
SELECT id, closed_at, total_votes, voter_count, draw_seed, seed_commitment, draw_eligible, reward_drawn_voters
FROM polls WHERE id = $1
"""

QUALIFICATIONS = """
SELECT t.user_id::text AS user_id, coalesce(u.nickname, '') AS nickname, t.reason, t.position
FROM trial_qualifications t JOIN users u ON u.id = t.user_id
WHERE t.poll_id = $1
ORDER BY CASE t.reason WHEN 'winner' THEN 0 WHEN 'top_proposer' THEN 1 WHEN 'drawn_voter' THEN 2 ELSE 3 END, t.position,
         t.id
"""

# --- trial places for points (docs/polls.md) ----------------------------------------------------------------
# The polls domain reads the brand's switch (brands) and the points earned (check_ins) here, with SQL: it imports
# neither domain. A member's balance in a brand is computed, never stored: check-in points earned in the brand's
# communities minus the points spent there (point_spends) plus those refunded (point_refunds: a place that expired
# unclaimed).

# The brand of a community and whether it lets members spend points (no row: the community has no brand).
COMMUNITY_BRAND = """
SELECT b.id AS brand_id, b.points_spendable
FROM communities c JOIN brands b ON b.id = c.brand_id
WHERE c.id = $1
"""

BRAND_SPENDABLE = "SELECT points_spendable FROM brands WHERE id = $1"

# The poll as a redemption needs it, its row locked: redemptions of one poll queue here (places, positions).
POLL_FOR_REDEMPTION = """
SELECT id, community_id, status, trial_product, trial_claim_days, trial_points_price, trial_points_places,
       status = 'closed' AND now() < closed_at + make_interval(days => trial_claim_days) AS redeemable,
       closed_at + make_interval(days => trial_claim_days) AS redeemable_until
FROM polls WHERE id = $1 AND community_id = $2
FOR UPDATE
"""

MY_QUALIFICATION = "SELECT id FROM trial_qualifications WHERE poll_id = $1 AND user_id = $2"

# The poll's redeemed places: `held` those still taken (a place refunded at its expiry is back in the offer), `sold`
# every one ever redeemed (positions follow it, so they stay the order of redemption).
COUNT_REDEEMED = """
SELECT count(*)::int AS sold,
       count(*) FILTER (WHERE NOT EXISTS (
           SELECT FROM point_refunds r WHERE r.qualification_id = t.id AND r.community_id = t.community_id
       ))::int AS held
FROM trial_qualifications t WHERE t.poll_id = $1 AND t.community_id = $2 AND t.reason = 'redeemed'
"""

# A member's points in a brand queue here: every spend of theirs in the brand, whatever the poll, takes this lock
# before reading the balance, so concurrent redemptions never spend the same points twice.
LOCK_MEMBER_POINTS = "SELECT pg_advisory_xact_lock(hashtextextended('points:' || $1::bigint || ':' || $2::bigint, 0))"

# Earned: the points of the member's counted check-ins; a void one (its post deleted or rejected, migration 0046)
# earns nothing, even when its points were spent already (the balance may then fall below zero).
EARNED_POINTS = """
SELECT coalesce(sum(ci.points), 0)::bigint
FROM check_ins ci JOIN communities c ON c.id = ci.community_id
WHERE ci.user_id = $1 AND c.brand_id = $2 AND ci.voided_at IS NULL
"""

SPENT_POINTS = "SELECT coalesce(sum(points), 0)::bigint FROM point_spends WHERE user_id = $1 AND brand_id = $2"

REFUNDED_POINTS = "SELECT coalesce(sum(points), 0)::bigint FROM point_refunds WHERE user_id = $1 AND brand_id = $2"

# At the expiry job: every redeemed place of the poll that expired unclaimed gets its points back, once (one refund
# per spend: a job that runs again, or late, refunds nothing twice).
REFUND_EXPIRED = """
INSERT INTO point_refunds (spend_id, user_id, brand_id, community_id, poll_id, qualification_id, points, reason)
SELECT s.id, s.user_id, s.brand_id, s.community_id, s.poll_id, s.qualification_id, s.points, 'expired'
FROM point_spends s JOIN trial_qualifications t ON t.id = s.qualification_id AND t.community_id = s.community_id
WHERE s.poll_id = $1 AND s.community_id = $2 AND t.status = 'expired'
ON CONFLICT DO NOTHING  -- no target: either unique key (spend, qualification) means refunded already
RETURNING user_id, brand_id, qualification_id, points
"""

INSERT_REDEEMED = """
INSERT INTO trial_qualifications (poll_id, community_id, user_id, reason, position, granted_at, expires_at)
SELECT id, community_id, $2, 'redeemed', $3, now(), now() + make_interval(days => trial_claim_days)
FROM polls WHERE id = $1
ON CONFLICT DO NOTHING  -- once per poll and member (no target: Citus widens that key)
RETURNING id, granted_at, expires_at
"""

INSERT_POINT_SPEND = """
INSERT INTO point_spends (user_id, brand_id, community_id, poll_id, qualification_id, points)
VALUES ($1, $2, $3, $4, $5, $6)
"""

SET_TRIAL_POINTS = """
UPDATE polls SET trial_points_price = $2, trial_points_places = $3, updated_at = now() WHERE id = $1
"""
