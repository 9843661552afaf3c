-- Paid entry and group collections over checkout (service/communities/paid.py, service/collections).

-- How long after paying a member may ask for the entry fee back (0: never), and who may start a collection.
ALTER TABLE communities
    ADD COLUMN refund_window_hours integer NOT NULL DEFAULT 72 CHECK (refund_window_hours BETWEEN 0 AND 720),
    ADD COLUMN collections_by text NOT NULL DEFAULT 'members' CHECK (collections_by IN ('members', 'admins'));

-- What a community_entry order carries beside the order itself: the invite that referred the payer (taken
-- when the order is created) and the refund window in force when the payment arrived, kept per order so an
-- owner shortening the window does not take a refund right away from members who already paid.
CREATE TABLE community_entries (
    order_id             bigint PRIMARY KEY REFERENCES orders (id),
    community_id         bigint NOT NULL REFERENCES communities (id),
    invite_id            bigint REFERENCES invites (id),
    referrer_id          bigint REFERENCES users (id),
    refund_window_hours  integer CHECK (refund_window_hours BETWEEN 0 AND 720),
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX community_entries_community ON community_entries (community_id);

-- A group collection: participants each pay amount_fen before the deadline; then the worker settles it
-- (collected money to the initiator by merchant transfer) or a cancel refunds every payer.
CREATE TABLE collections (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id       bigint NOT NULL REFERENCES communities (id),
    initiator_id       bigint NOT NULL REFERENCES users (id),
    title              text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 40),
    amount_fen         integer NOT NULL CHECK (amount_fen > 0),
    deadline           timestamptz NOT NULL,
    -- open: payable until the deadline; settling: the deadline passed, open orders are being closed;
    -- settled: the payout is promised (or nothing was collected); cancelled: every payer is refunded.
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'settling', 'settled', 'cancelled')),
    participant_count  integer NOT NULL CHECK (participant_count >= 1),
    -- Shares paid and not refunded, and their money: changed only under this row's lock.
    paid_count         integer NOT NULL DEFAULT 0 CHECK (paid_count BETWEEN 0 AND participant_count),
    collected_fen      integer NOT NULL DEFAULT 0 CHECK (collected_fen >= 0),
    transfer_id        bigint REFERENCES transfers (id),
    -- Mirrors the payout transfer: pending until its final state (on_transfer), none when nothing was due.
    payout_status      text CHECK (payout_status IN ('none', 'pending', 'succeeded', 'failed', 'cancelled')),
    cancelled_by       bigint REFERENCES users (id),
    cancel_reason      text NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    settled_at         timestamptz,
    cancelled_at       timestamptz,
    paid_out_at        timestamptz,
    CHECK ((status = 'settled') = (settled_at IS NOT NULL)),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);
CREATE INDEX collections_of_community ON collections (community_id, id DESC);
CREATE INDEX collections_due ON collections (deadline) WHERE status IN ('open', 'settling');

CREATE TABLE collection_participants (
    collection_id  bigint NOT NULL REFERENCES collections (id),
    user_id        bigint NOT NULL REFERENCES users (id),
    -- unpaid -> paid (on_paid) -> refunded (cancel); unpaid -> expired at settlement.
    status         text NOT NULL DEFAULT 'unpaid' CHECK (status IN ('unpaid', 'paid', 'refunded', 'expired')),
    order_id       bigint REFERENCES orders (id),
    paid_at        timestamptz,
    PRIMARY KEY (collection_id, user_id),
    CHECK ((status IN ('paid', 'refunded')) = (order_id IS NOT NULL))
);
CREATE INDEX collection_participants_user ON collection_participants (user_id);
