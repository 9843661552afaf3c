-- Operating a community (issue 9): its time zone, theme activities and check-ins, meetups (events), the
-- warm-up robot and community apps. Robot posts are plain posts rows (author NULL, robot set); the links from
-- these tables to posts live here (activity_occurrences.post_id, check_ins.post_id).

-- The community's IANA time zone decides local days (activities) and active hours (warm-up robot). The name
-- is validated by the application against the zoneinfo database.
ALTER TABLE communities ADD COLUMN timezone text NOT NULL DEFAULT 'Asia/Shanghai'
    CHECK (char_length(timezone) BETWEEN 1 AND 64);

-- --- community apps --------------------------------------------------------------------------------------

-- What the platform operator charges for an app; no row: the app is free.
CREATE TABLE app_prices (
    app         text PRIMARY KEY,
    billing     text NOT NULL CHECK (billing IN ('one_off', 'monthly')),
    price_fen   integer NOT NULL CHECK (price_fen BETWEEN 1 AND 10000000),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- An app's state in one community; no row: on while the app is free (the default), off while it is priced.
CREATE TABLE community_apps (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the subject of the app's orders
    community_id   bigint NOT NULL REFERENCES communities (id),
    app            text NOT NULL,
    enabled        boolean NOT NULL,             -- the owner's switch
    purchased      boolean NOT NULL DEFAULT false,  -- a one-off purchase: paid for good
    paid_until     timestamptz,                  -- end of the monthly periods paid for
    reminded_for   timestamptz,                  -- the paid_until an expiry reminder went out for
    reminder_result text,                        -- sent | no_consent | failed
    changed_by     bigint REFERENCES users (id),
    changed_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (community_id, app)
);
CREATE INDEX community_apps_expiring ON community_apps (paid_until) WHERE enabled AND NOT purchased;

-- Which order bought what: the billing and price at the time the order was created.
CREATE TABLE app_purchases (
    order_id          bigint PRIMARY KEY REFERENCES orders (id),
    community_app_id  bigint NOT NULL REFERENCES community_apps (id),
    billing           text NOT NULL CHECK (billing IN ('one_off', 'monthly')),
    price_fen         integer NOT NULL,
    applied_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Is the app on in the community now: the owner's switch is on and it is free, bought, or paid up.
-- The single definition that routes (apps.logic.require_app) and jobs use.
CREATE FUNCTION community_app_active(p_community bigint, p_app text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(ca.enabled, true)
           AND (p.app IS NULL OR coalesce(ca.purchased, false) OR coalesce(ca.paid_until > now(), false))
    FROM (SELECT p_app AS app) a
    LEFT JOIN community_apps ca ON ca.community_id = p_community AND ca.app = a.app
    LEFT JOIN app_prices p ON p.app = a.app
$$;

-- --- theme activities and check-ins -----------------------------------------------------------------------

CREATE TABLE activities (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id     bigint NOT NULL REFERENCES communities (id),
    created_by       bigint NOT NULL REFERENCES users (id),
    title            text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 60),
    prompt           text NOT NULL CHECK (char_length(prompt) BETWEEN 1 AND 500),
    recurrence       text NOT NULL CHECK (recurrence IN ('daily', 'weekly', 'dates')),
    weekdays         smallint[] NOT NULL DEFAULT '{}',  -- ISO weekdays (1 Monday .. 7 Sunday) when weekly
    dates            date[] NOT NULL DEFAULT '{}',      -- local days when 'dates'
    starts_on        date NOT NULL,                     -- first local day
    ends_on          date,                              -- last local day, inclusive
    window_start     time NOT NULL,                     -- local time the check-in window opens
    window_end       time NOT NULL,                     -- closes; earlier than window_start: the next day
    reward_points    integer NOT NULL DEFAULT 0 CHECK (reward_points BETWEEN 0 AND 1000),
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
    generated_until  date,                              -- occurrences exist up to this local day
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (window_start <> window_end),
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
CREATE INDEX activities_of_community ON activities (community_id, id DESC);
CREATE INDEX activities_active ON activities (id) WHERE status = 'active';

-- One per activity and local day, generated ahead by a job; announced by the robot when it opens.
CREATE TABLE activity_occurrences (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_id   bigint NOT NULL REFERENCES activities (id),
    community_id  bigint NOT NULL REFERENCES communities (id),
    local_date    date NOT NULL,
    opens_at      timestamptz NOT NULL,
    closes_at     timestamptz NOT NULL,
    post_id       bigint REFERENCES posts (id),   -- the robot's announcement
    announced_at  timestamptz,
    UNIQUE (activity_id, local_date),
    CHECK (closes_at > opens_at)
);
CREATE INDEX activity_occurrences_order ON activity_occurrences (activity_id, opens_at);
CREATE INDEX activity_occurrences_unannounced ON activity_occurrences (opens_at) WHERE announced_at IS NULL;

-- A member's answer to an occurrence: one per member and occurrence. `streak` is the run of consecutive
-- occurrences checked into that ends here (1 when the previous occurrence was missed).
CREATE TABLE check_ins (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurrence_id  bigint NOT NULL REFERENCES activity_occurrences (id),
    activity_id    bigint NOT NULL REFERENCES activities (id),
    community_id   bigint NOT NULL REFERENCES communities (id),
    user_id        bigint NOT NULL REFERENCES users (id),
    post_id        bigint NOT NULL REFERENCES posts (id),
    points         integer NOT NULL DEFAULT 0,
    streak         integer NOT NULL CHECK (streak >= 1),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (occurrence_id, user_id)
);
CREATE INDEX check_ins_of_activity ON check_ins (activity_id, user_id);
CREATE INDEX check_ins_of_occurrence ON check_ins (occurrence_id, id DESC);

-- --- meetups (events) -------------------------------------------------------------------------------------

CREATE TABLE meetups (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id     bigint NOT NULL REFERENCES communities (id),
    created_by       bigint NOT NULL REFERENCES users (id),
    title            text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 60),
    description      text NOT NULL DEFAULT '',
    mode             text NOT NULL CHECK (mode IN ('online', 'offline')),
    place            text NOT NULL DEFAULT '',
    latitude         double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude        double precision CHECK (longitude BETWEEN -180 AND 180),
    starts_at        timestamptz NOT NULL,
    ends_at          timestamptz NOT NULL,
    signup_deadline  timestamptz NOT NULL,
    capacity         integer NOT NULL CHECK (capacity BETWEEN 1 AND 5000),
    waitlist         boolean NOT NULL DEFAULT true,
    -- how long a place promoted from the waitlist is held for payment (MEETUPS_PROMOTION_HOLD at creation)
    promotion_hold   integer NOT NULL DEFAULT 1800 CHECK (promotion_hold >= 60),
    fee_fen          integer CHECK (fee_fen > 0),
    venue_code       text NOT NULL,
    -- Confirmed and held (awaiting payment) places, changed only under this row's lock: the capacity is exact.
    seats_taken      integer NOT NULL DEFAULT 0 CHECK (seats_taken >= 0),
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'cancelled')),
    cancel_reason    text NOT NULL DEFAULT '',
    cancelled_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at),
    CHECK (signup_deadline <= starts_at),
    CHECK (seats_taken <= capacity),
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);
CREATE INDEX meetups_of_community ON meetups (community_id, starts_at, id);

-- One row per member and meetup, reused when they sign up again after cancelling.
CREATE TABLE meetup_signups (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the subject of the signup's orders
    meetup_id        bigint NOT NULL REFERENCES meetups (id),
    community_id     bigint NOT NULL REFERENCES communities (id),
    user_id          bigint NOT NULL REFERENCES users (id),
    status           text NOT NULL
                     CHECK (status IN ('confirmed', 'pending_payment', 'waitlisted', 'cancelled')),
    -- why a signup was cancelled: member | hold_expired | refunded | meetup_cancelled
    cancel_reason    text,
    waitlisted_at    timestamptz,          -- the waitlist's order
    hold_until       timestamptz,          -- pending_payment: the seat is held until then
    order_id         bigint REFERENCES orders (id),
    attended_at      timestamptz,
    attended_via     text CHECK (attended_via IN ('code', 'qr')),
    -- subscribe-message reminder before the start: sending | sent | no_consent | muted | failed (never retried)
    reminder_status  text,
    -- subscribe message telling a waitlisted member a place is theirs: sending | sent | no_consent | ... (once)
    promotion_notice text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (meetup_id, user_id),
    CHECK ((status = 'pending_payment') = (hold_until IS NOT NULL)),
    CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL))
);
CREATE INDEX meetup_signups_waitlist ON meetup_signups (meetup_id, waitlisted_at, id) WHERE status = 'waitlisted';
CREATE INDEX meetup_signups_by_order ON meetup_signups (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX meetup_signups_to_remind ON meetup_signups (meetup_id) WHERE status = 'confirmed' AND reminder_status IS NULL;

-- --- the warm-up robot ------------------------------------------------------------------------------------

CREATE TABLE warmup_settings (
    community_id    bigint PRIMARY KEY REFERENCES communities (id),
    enabled         boolean NOT NULL DEFAULT true,
    quiet_minutes   integer NOT NULL DEFAULT 180 CHECK (quiet_minutes BETWEEN 10 AND 10080),
    active_from     time NOT NULL DEFAULT '09:00',   -- local time; active_from = active_until: all day
    active_until    time NOT NULL DEFAULT '22:00',   -- earlier than active_from: the hours span midnight
    last_topic_id   bigint,
    last_posted_at  timestamptz,
    last_post_id    bigint REFERENCES posts (id),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE warmup_topics (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id  bigint NOT NULL REFERENCES communities (id),
    text          text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 500),
    position      integer NOT NULL,      -- the robot takes topics in (position, id) order, then starts over
    created_by    bigint NOT NULL REFERENCES users (id),
    used_count    integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);
CREATE INDEX warmup_topics_order ON warmup_topics (community_id, position, id) WHERE deleted_at IS NULL;

-- The robots' names and faces, where the feed's robots table exists (it arrives with the feed's migration).
DO $$
BEGIN
    IF to_regclass('robots') IS NOT NULL THEN
        INSERT INTO robots (name, nickname) VALUES ('activities', '打卡小助手'), ('warmup', '暖场小助手')
        ON CONFLICT (name) DO NOTHING;
    END IF;
END
$$;
