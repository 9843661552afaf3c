-- Photos (service/media). Additive: old pods neither read nor write these tables.

-- One stored image per distinct content (sha256 of the display image we serve): identical uploads are
-- stored, and checked by WeChat, once. Its status is WeChat's verdict on that content.
CREATE TABLE media_objects (
    sha256         text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    storage_key    text NOT NULL,
    thumbnail_key  text NOT NULL,
    mime_type      text NOT NULL,
    width          integer NOT NULL CHECK (width > 0),
    height         integer NOT NULL CHECK (height > 0),
    bytes          integer NOT NULL CHECK (bytes > 0),
    -- review: WeChat asked for a person's decision; held (shown to its uploaders only) until moderation.
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'review')),
    label          integer,
    check_attempts integer NOT NULL DEFAULT 0,
    submitted_at   timestamptz,  -- last time it was sent to media_check_async
    checked_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_objects_unchecked ON media_objects (submitted_at) WHERE status = 'pending';

-- Every submission to WeChat's check: its verdict comes back by trace_id, maybe twice, maybe never.
CREATE TABLE media_checks (
    trace_id      text PRIMARY KEY,
    object_sha256 text NOT NULL REFERENCES media_objects (sha256) ON DELETE CASCADE,
    submitted_at  timestamptz NOT NULL DEFAULT now(),
    suggest       text CHECK (suggest IN ('pass', 'review', 'risky')),
    answered_at   timestamptz
);
CREATE INDEX media_checks_object ON media_checks (object_sha256);

-- One row per upload: whose it is and what it is for. Unattached uploads are deleted after a day.
CREATE TABLE media (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    object_sha256  text NOT NULL REFERENCES media_objects (sha256),
    source_sha256  text NOT NULL,  -- of the uploaded file: the same file again skips decoding
    source_bytes   integer NOT NULL,
    purpose        text NOT NULL,
    attached_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_owner ON media (owner_id, id DESC);
CREATE INDEX media_source ON media (source_sha256);
CREATE INDEX media_object ON media (object_sha256);
CREATE INDEX media_unattached ON media (created_at) WHERE attached_at IS NULL;
