-- A free trial ends as `void` when its holder's account is erased after claiming it and before it shipped: the
-- erasure removes the delivery note, so there is nobody to ship to (service/polls/privacy.py, docs/polls.md).
ALTER TABLE trial_qualifications DROP CONSTRAINT trial_qualifications_status_check;
ALTER TABLE trial_qualifications ADD CONSTRAINT trial_qualifications_status_check
    CHECK (status IN ('granted', 'claimed', 'shipped', 'expired', 'void'));
ALTER TABLE trial_qualifications
    ADD COLUMN voided_at timestamptz,
    ADD COLUMN void_reason text CHECK (void_reason IN ('account_erased'));
ALTER TABLE trial_qualifications ADD CONSTRAINT trial_qualifications_void_iff_voided
    CHECK ((status = 'void') = (voided_at IS NOT NULL AND void_reason IS NOT NULL));

-- The accounts erased before: their claimed, unshipped trials end now, each written in its poll's record.
WITH voided AS (
    UPDATE trial_qualifications t SET status = 'void', voided_at = now(), void_reason = 'account_erased'
    FROM users u
    WHERE u.id = t.user_id AND u.erased_at IS NOT NULL AND t.status = 'claimed'
    RETURNING t.id, t.poll_id, t.community_id, t.user_id
)
INSERT INTO poll_audit (poll_id, community_id, actor_id, action, subject_id, details)
SELECT poll_id, community_id, NULL, 'trial.voided', user_id,
       jsonb_build_object('reason', 'account_erased', 'trialId', id::text)
FROM voided;
