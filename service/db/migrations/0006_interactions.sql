-- Interaction events: append-only, partitioned by month on when the action happened.
-- Other domains record their actions here in the same transaction as the action itself;
-- clients add views and share opens through POST /v1/events (client_event_id makes retries idempotent).
CREATE TABLE interaction_events (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    community_id    bigint NOT NULL,
    user_id         bigint NOT NULL,
    kind            text NOT NULL,
    post_id         bigint,
    target          text,
    dwell_ms        integer,
    client_event_id text,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);

-- Safety net for rows outside the monthly partitions the worker creates ahead of time.
CREATE TABLE interaction_events_default PARTITION OF interaction_events DEFAULT;

-- A retried batch carries the same ids and timestamps: the unique index absorbs it.
CREATE UNIQUE INDEX interaction_events_client_id
    ON interaction_events (user_id, client_event_id, occurred_at) WHERE client_event_id IS NOT NULL;
CREATE INDEX interaction_events_community_time ON interaction_events (community_id, occurred_at);
CREATE INDEX interaction_events_recorded ON interaction_events (recorded_at);

-- Presence sessions derived from heartbeats: a gap over the session gap (90 s) starts a new one.
CREATE TABLE presence_sessions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id  bigint NOT NULL,
    user_id       bigint NOT NULL,
    started_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    CHECK (last_seen_at >= started_at)
);
CREATE INDEX presence_sessions_open ON presence_sessions (user_id, community_id, last_seen_at DESC);
CREATE INDEX presence_sessions_community_time ON presence_sessions (community_id, started_at, last_seen_at);

-- Daily roll-ups (days in the metrics time zone), rebuilt exactly from raw events and sessions.
CREATE TABLE rollup_views (
    community_id     bigint NOT NULL,
    day              date NOT NULL,
    user_id          bigint NOT NULL,
    target           text NOT NULL,          -- 'post:<id>' or 'page:<path>'
    post_id          bigint,
    views            integer NOT NULL,
    effective_views  integer NOT NULL,       -- distinct 30-minute slots with a view of 3 s or more
    PRIMARY KEY (community_id, day, user_id, target)
);

CREATE TABLE rollup_presence (
    community_id    bigint NOT NULL,
    day             date NOT NULL,
    user_id         bigint NOT NULL,
    online_seconds  double precision NOT NULL,
    PRIMARY KEY (community_id, day, user_id)
);

CREATE TABLE rollup_contributions (
    community_id       bigint NOT NULL,
    day                date NOT NULL,
    user_id            bigint NOT NULL,
    comments_received  integer NOT NULL,
    likes_received     integer NOT NULL,
    participation      integer NOT NULL,
    PRIMARY KEY (community_id, day, user_id)
);

CREATE TABLE rollup_days (
    community_id      bigint NOT NULL,
    day               date NOT NULL,
    peak_concurrent   integer NOT NULL,
    new_members       integer NOT NULL,
    rolled_up_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, day)
);

-- Where the incremental roll-up got to, and each community's stage derived from its metrics.
CREATE TABLE rollup_state (
    name        text PRIMARY KEY,
    watermark   timestamptz NOT NULL
);

CREATE TABLE community_stages (
    community_id  bigint PRIMARY KEY,
    stage         text NOT NULL CHECK (stage IN ('gather', 'active', 'operate', 'commercialise')),
    computed_at   timestamptz NOT NULL DEFAULT now()
);

-- Two-tier reward pools: split among communities by activity score, then among members by contribution.
CREATE TABLE reward_pools (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    window_from     date NOT NULL,
    window_to       date NOT NULL,
    community_ids   bigint[],                 -- NULL: every community
    min_score       double precision NOT NULL DEFAULT 0,
    min_effective_speakers integer NOT NULL DEFAULT 0,
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'committed')),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    committed_at    timestamptz,
    CHECK (window_to >= window_from)
);

CREATE TABLE reward_allocations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pool_id         bigint NOT NULL REFERENCES reward_pools (id),
    community_id    bigint NOT NULL,
    user_id         bigint,                   -- NULL: the community's tier-1 share
    amount_fen      bigint NOT NULL CHECK (amount_fen >= 0),
    basis           double precision NOT NULL, -- the score or contribution it was split by
    status          text NOT NULL DEFAULT 'owed' CHECK (status IN ('owed', 'paid')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (pool_id, community_id, user_id)
);
CREATE INDEX reward_allocations_user ON reward_allocations (user_id) WHERE user_id IS NOT NULL;

-- Monthly partitions, created ahead by the worker and on demand by ingestion.
CREATE FUNCTION ensure_interaction_partitions(first_month date, months integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    month date;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        month := date_trunc('month', first_month)::date + make_interval(months => i);
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF interaction_events FOR VALUES FROM (%L) TO (%L)',
            'interaction_events_' || to_char(month, 'YYYYMM'),
            month::text || ' 00:00:00+00',
            (month + interval '1 month')::date::text || ' 00:00:00+00'
        );
    END LOOP;
END
$$;

SELECT ensure_interaction_partitions((now() - interval '1 month')::date, 4);
