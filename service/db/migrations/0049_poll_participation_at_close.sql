-- Poll participation in contribution scores (docs/metrics.md) is now read from the polls' rows at their close (what
-- stands: proposals not hidden, votes not withdrawn), no longer from the `proposal` and `vote` events. The roll-up
-- stops counting those events; take them out of the days already rolled up, so the stored participation and the one a
-- rebuild gives agree. Days are local days in the roll-up's zone (speech_zone: METRICS_TIMEZONE). A day whose events
-- were not all rolled up yet is recomputed whole by the next roll-up run anyway (it was touched since).
UPDATE rollup_contributions r
SET participation = greatest(r.participation - e.events, 0)
FROM (
    SELECT i.community_id, (i.occurred_at AT TIME ZONE z.zone)::date AS day, i.user_id, count(*)::int AS events
    FROM interaction_events i CROSS JOIN speech_zone z
    WHERE i.kind IN ('proposal', 'vote')
    GROUP BY 1, 2, 3
) AS e
WHERE r.community_id = e.community_id AND r.day = e.day AND r.user_id = e.user_id;
