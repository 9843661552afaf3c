-- A check-in is its post (docs/operating.md, "Check-ins whose post goes"): once the post is deleted (by its author
-- or an admin) or rejected (refused by content safety, removed by moderation), the check-in is void for good. It
-- keeps its row (the member's history, exports) but no longer counts: no points (the activity's, the profile's,
-- the brand's balance), no place in the ranking, no part in a streak, and the member may check into that
-- occurrence again while its window is open. Both post states are final (a rejected post is not editable, a
-- deleted one is not restored), so voiding never needs undoing.
ALTER TABLE check_ins ADD COLUMN IF NOT EXISTS voided_at timestamptz;

-- One counted check-in per member and occurrence; void ones do not take the place. community_id leads so that
-- Citus need not widen the key (an occurrence belongs to one community: the same rule).
ALTER TABLE check_ins DROP CONSTRAINT IF EXISTS check_ins_occurrence_id_user_id_key;
CREATE UNIQUE INDEX check_ins_once ON check_ins (community_id, occurrence_id, user_id) WHERE voided_at IS NULL;

-- The streaks of one member's counted check-ins in one activity, computed again: a run of consecutive
-- occurrences (in the order they open) checked into, as INSERT_CHECK_IN builds them one at a time.
CREATE FUNCTION check_in_streaks(community bigint, activity bigint, member bigint) RETURNS void
LANGUAGE sql AS $$
WITH positions AS (
    SELECT o.id, row_number() OVER (ORDER BY o.opens_at, o.id) AS pos
    FROM activity_occurrences o WHERE o.community_id = community AND o.activity_id = activity
), counted AS (
    SELECT ci.id, p.pos, p.pos - row_number() OVER (ORDER BY p.pos) AS run
    FROM check_ins ci JOIN positions p ON p.id = ci.occurrence_id
    WHERE ci.community_id = community AND ci.activity_id = activity AND ci.user_id = member
      AND ci.voided_at IS NULL
), streaks AS (
    SELECT id, row_number() OVER (PARTITION BY run ORDER BY pos)::int AS streak FROM counted
)
UPDATE check_ins ci SET streak = s.streak
FROM streaks s
WHERE ci.community_id = community AND ci.id = s.id AND ci.streak <> s.streak
$$;

-- In the transaction that deletes or rejects a check-in post: void its check-in, then recount the member's
-- streaks in the activity. The member's check-ins in the activity are locked first, in id order, as a new
-- check-in locks them before reading the previous streak (service/activities/checkins.py): of the two, the
-- later one sees what the other wrote, and neither waits for the other twice (no deadlock).
CREATE FUNCTION check_ins_void() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    hit record;
BEGIN
    SELECT activity_id, user_id INTO hit FROM check_ins
    WHERE community_id = NEW.community_id AND post_id = NEW.id AND voided_at IS NULL;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM check_ins
    WHERE community_id = NEW.community_id AND activity_id = hit.activity_id AND user_id = hit.user_id
    ORDER BY id FOR UPDATE;
    UPDATE check_ins SET voided_at = now()
    WHERE community_id = NEW.community_id AND post_id = NEW.id AND voided_at IS NULL;
    PERFORM check_in_streaks(NEW.community_id, hit.activity_id, hit.user_id);
    RETURN NULL;
END $$;

-- Check-ins already void: the posts deleted or rejected before this migration.
UPDATE check_ins ci SET voided_at = coalesce(p.deleted_at, p.updated_at, now())
FROM posts p
WHERE p.id = ci.post_id AND p.community_id = ci.community_id AND ci.voided_at IS NULL
  AND (p.status = 'rejected' OR p.deleted_at IS NOT NULL);
SELECT check_in_streaks(community_id, activity_id, user_id)
FROM (SELECT DISTINCT community_id, activity_id, user_id FROM check_ins WHERE voided_at IS NOT NULL) touched;

-- Only check-in posts, only when they leave for good: other posts pay nothing but the WHEN test.
CREATE TRIGGER posts_void_check_ins AFTER UPDATE OF status, deleted_at ON posts
    FOR EACH ROW WHEN (NEW.kind = 'check_in' AND (NEW.status = 'rejected' OR NEW.deleted_at IS NOT NULL))
    EXECUTE FUNCTION check_ins_void();
