-- A join request left pending beside an active membership of its applicant in the same community (a join request
-- racing an admission, fixed since: service/communities/joining.py) is settled: cancelled, as an admission by any
-- other path cancels it. Otherwise an admin could still reject it, a rejection notice to a member. Both tables are
-- keyed by community_id, so on Citus each shard settles its own.
UPDATE join_requests r SET status = 'cancelled', decided_at = now()
FROM memberships m
WHERE m.community_id = r.community_id AND m.user_id = r.user_id AND m.status = 'active' AND r.status = 'pending';
