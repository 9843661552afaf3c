-- Account deletion (注销): a member asks, a cooling-off period runs (logging in cancels it: the row goes), then the
-- worker's accounts.erase job erases the account. The users row stays as a tombstone (erased_at set, identity
-- erased, openid replaced by a random pseudonym) so the money records and the threads keep their references.
CREATE TABLE account_deletions (
    user_id       bigint PRIMARY KEY REFERENCES users (id),
    requested_at  timestamptz NOT NULL DEFAULT now(),
    due_at        timestamptz NOT NULL,
    completed_at  timestamptz
);
CREATE INDEX account_deletions_due ON account_deletions (due_at) WHERE completed_at IS NULL;

ALTER TABLE users ADD COLUMN erased_at timestamptz;
CREATE INDEX users_erased ON users (erased_at) WHERE erased_at IS NOT NULL;
