-- The worker's retention now records, with the months of interaction_events it drops, the start of the oldest month
-- kept (rollup_state 'retention'): a metrics rebuild keeps the roll-ups of the days before it, all that is left of
-- their events (service/interactions/logic.py, docs/metrics.md). Months it dropped before: the oldest monthly
-- partition's start, when days before it were rolled up (their events are gone, or were never in a monthly partition:
-- either way the rebuild keeps what it cannot recompute as it was). The partitions are months from UTC midnight; the
-- local day of that date counts as before it (in Asia/Shanghai it starts at 16:00 UTC the day before).
INSERT INTO rollup_state (name, watermark)
SELECT 'retention', oldest.start
FROM (
    SELECT min(to_date(substr(c.relname, 20), 'YYYYMM'))::timestamp AT TIME ZONE 'UTC' AS start
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'interaction_events'::regclass AND c.relname ~ '^interaction_events_[0-9]{6}$'
) oldest
WHERE EXISTS (SELECT FROM rollup_days WHERE day <= (oldest.start AT TIME ZONE 'UTC')::date)
ON CONFLICT (name) DO NOTHING;
