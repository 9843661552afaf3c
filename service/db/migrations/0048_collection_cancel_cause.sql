-- Why a collection was cancelled: 'manual' (its initiator or an admin, cancel_reason is their text) or
-- 'initiator_left' (the settlement found the initiator no longer an active member of the community: nothing is
-- paid out to someone who left or was removed, every payer is refunded). NULL unless cancelled.
ALTER TABLE collections ADD COLUMN IF NOT EXISTS cancel_cause text CHECK (cancel_cause IN ('manual', 'initiator_left'));
UPDATE collections SET cancel_cause = 'manual' WHERE status = 'cancelled' AND cancel_cause IS NULL;
ALTER TABLE collections DROP CONSTRAINT IF EXISTS collections_cancel_cause_iff_cancelled;
ALTER TABLE collections ADD CONSTRAINT collections_cancel_cause_iff_cancelled
    CHECK ((status = 'cancelled') = (cancel_cause IS NOT NULL));
