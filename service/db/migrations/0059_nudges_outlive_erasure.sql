-- An erasure took the introductions naming the member from the other member's record too, which reset that member's
-- weekly nudge bound (and the community's daily cap): the robot nudged them again at once. The other's record now
-- stays, without the erased member's id; only a prompt never names anyone.
ALTER TABLE warmup_nudges DROP CONSTRAINT warmup_nudges_check,
    ADD CONSTRAINT warmup_nudges_prompt_names_no_one CHECK (kind = 'introduction' OR other_id IS NULL);
