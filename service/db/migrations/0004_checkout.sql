-- Background jobs (service/jobs): polled with FOR UPDATE SKIP LOCKED by any number of workers.
CREATE TABLE jobs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL,
    payload       jsonb NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    run_at        timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 12 CHECK (max_attempts >= 1),
    dedupe_key    text,
    locked_by     text,
    locked_until  timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
-- Due work and expired leases, in the order workers take them.
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE status IN ('queued', 'running');
-- At most one pending job per dedupe key (e.g. one refund job per refund); finished ones free the key.
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE status IN ('queued', 'running');

-- Orders paid through WeChat Pay (JSAPI). `purpose` + `subject_id` say what is bought (e.g. community_entry
-- and the community id); the domain that owns the purpose decides what payment means (service/checkout).
CREATE TABLE orders (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    out_trade_no     text NOT NULL UNIQUE,
    payer_user_id    bigint NOT NULL REFERENCES users (id),
    payer_openid     text NOT NULL,
    purpose          text NOT NULL,
    subject_id       bigint,
    description      text NOT NULL,
    amount_fen       integer NOT NULL CHECK (amount_fen > 0),
    status           text NOT NULL DEFAULT 'created' CHECK (status IN ('created', 'paid', 'refunded', 'closed')),
    prepay_id        text,
    time_expire      timestamptz NOT NULL,
    idempotency_key  text,
    transaction_id   text UNIQUE,
    paid_fen         integer NOT NULL DEFAULT 0,
    refunded_fen     integer NOT NULL DEFAULT 0,
    paid_at          timestamptz,
    closed_at        timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (paid_fen IN (0, amount_fen)),
    CHECK (refunded_fen BETWEEN 0 AND paid_fen),
    CHECK ((paid_fen > 0) = (transaction_id IS NOT NULL)),
    CHECK (status <> 'refunded' OR (paid_fen > 0 AND refunded_fen = paid_fen)),
    UNIQUE (payer_user_id, idempotency_key)
);
-- One payable order per payer and thing bought: a second join returns the first order.
CREATE UNIQUE INDEX orders_one_open ON orders (payer_user_id, purpose, coalesce(subject_id, 0)) WHERE status = 'created';
CREATE INDEX orders_subject ON orders (purpose, subject_id, id DESC);
CREATE INDEX orders_payer ON orders (payer_user_id, id DESC);

CREATE TABLE refunds (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id         bigint NOT NULL REFERENCES orders (id),
    out_refund_no    text NOT NULL UNIQUE,
    amount_fen       integer NOT NULL CHECK (amount_fen > 0),
    initiated_by     text NOT NULL CHECK (initiated_by IN ('payer', 'admin', 'system')),
    requested_by     bigint REFERENCES users (id),
    reason           text NOT NULL,
    -- pending: not yet accepted by WeChat (the refund job retries); processing: accepted, awaiting the result.
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'succeeded', 'closed', 'abnormal', 'failed')),
    refund_id        text,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    succeeded_at     timestamptz
);
CREATE INDEX refunds_order ON refunds (order_id);

-- Merchant transfers to a member (settling a group collection, rewards).
CREATE TABLE transfers (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    out_bill_no       text NOT NULL UNIQUE,
    payee_user_id     bigint NOT NULL REFERENCES users (id),
    payee_openid      text NOT NULL,
    amount_fen        integer NOT NULL CHECK (amount_fen > 0),
    purpose           text NOT NULL,
    subject_id        bigint,
    remark            text NOT NULL,
    -- The caller's key for "this payout" (e.g. collection:42): asking twice creates one transfer.
    dedupe_key        text NOT NULL UNIQUE,
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'wait_user_confirm', 'processing', 'succeeded', 'failed', 'cancelled')),
    transfer_bill_no  text,
    package_info      text,
    fail_reason       text,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz
);
CREATE INDEX transfers_payee ON transfers (payee_user_id, id DESC);

-- Every money movement, once: a payment into the merchant account, a refund or a transfer out of it, a fee.
CREATE TABLE ledger_entries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('payment', 'refund', 'transfer', 'fee')),
    order_id     bigint REFERENCES orders (id),
    refund_id    bigint REFERENCES refunds (id),
    transfer_id  bigint REFERENCES transfers (id),
    amount_fen   integer NOT NULL CHECK (amount_fen > 0),
    external_id  text,  -- WeChat's transaction_id, refund_id or transfer_bill_no
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (
        (kind = 'payment' AND order_id IS NOT NULL AND refund_id IS NULL AND transfer_id IS NULL)
        OR (kind = 'refund' AND order_id IS NOT NULL AND refund_id IS NOT NULL AND transfer_id IS NULL)
        OR (kind = 'transfer' AND transfer_id IS NOT NULL AND order_id IS NULL AND refund_id IS NULL)
        OR kind = 'fee'
    )
);
CREATE UNIQUE INDEX ledger_one_payment ON ledger_entries (order_id) WHERE kind = 'payment';
CREATE UNIQUE INDEX ledger_one_refund ON ledger_entries (refund_id) WHERE kind = 'refund';
CREATE UNIQUE INDEX ledger_one_transfer ON ledger_entries (transfer_id) WHERE kind = 'transfer';
CREATE INDEX ledger_order ON ledger_entries (order_id) WHERE order_id IS NOT NULL;

-- The money of each order: paid = refunded + retained, from the ledger and from the order, which must agree.
CREATE VIEW order_balances AS
SELECT o.id AS order_id,
       o.status,
       o.paid_fen,
       o.refunded_fen,
       o.paid_fen - o.refunded_fen AS retained_fen,
       coalesce((SELECT sum(l.amount_fen) FROM ledger_entries l WHERE l.order_id = o.id AND l.kind = 'payment'), 0)
           AS ledger_paid_fen,
       coalesce((SELECT sum(l.amount_fen) FROM ledger_entries l WHERE l.order_id = o.id AND l.kind = 'refund'), 0)
           AS ledger_refunded_fen,
       coalesce((SELECT sum(r.amount_fen) FROM refunds r WHERE r.order_id = o.id AND r.status = 'succeeded'), 0)
           AS refunds_succeeded_fen
FROM orders o;

-- Orders whose money does not add up; empty when the books are right (tests and a monitoring query use it).
CREATE FUNCTION checkout_ledger_violations() RETURNS TABLE (order_id bigint, problem text)
LANGUAGE sql STABLE AS $$
    SELECT b.order_id, 'ledger payments differ from the order''s paid amount'
    FROM order_balances b WHERE b.ledger_paid_fen <> b.paid_fen
    UNION ALL
    SELECT b.order_id, 'ledger refunds differ from the order''s refunded amount'
    FROM order_balances b WHERE b.ledger_refunded_fen <> b.refunded_fen
    UNION ALL
    SELECT b.order_id, 'succeeded refunds differ from the order''s refunded amount'
    FROM order_balances b WHERE b.refunds_succeeded_fen <> b.refunded_fen
    UNION ALL
    SELECT b.order_id, 'paid is not refunded + retained'
    FROM order_balances b WHERE b.ledger_paid_fen <> b.ledger_refunded_fen + b.retained_fen OR b.retained_fen < 0
    UNION ALL
    SELECT r.order_id, 'refunds promised exceed the payment'
    FROM refunds r JOIN orders o ON o.id = r.order_id
    WHERE r.status NOT IN ('closed', 'failed')
    GROUP BY r.order_id, o.paid_fen HAVING sum(r.amount_fen) > o.paid_fen
$$;
