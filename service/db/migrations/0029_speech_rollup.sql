-- Speech metrics without re-reading the speech (docs/metrics.md, "Speech roll-up"). What validity needs is known
-- when a post or comment is written or changed, so triggers keep it:
-- * speech_days: per community, local day (in speech_zone's zone: the service's METRICS_TIMEZONE) and author, how
--   many posts and comments the author wrote (any status: speakers) and how many are basic-valid (by a member,
--   visible, not deleted, >= 5 characters of trimmed text or an image). Upserted increments: exact under
--   concurrent writers.
-- * speech_keys: per community, author and key (md5 of the text as the repeat rule compares it, and the image
--   count) of every row long enough or with an image, how many rows have it. When a second row takes a key, both
--   (and every later one) are flagged `speech_repeat`: only flagged rows can be repeats, so the metrics re-read only
--   those (a partial index), and the flag never needs clearing (a flagged row that no longer shares its key is
--   judged on its texts anyway). The upsert on the key serialises two writers of the same key: neither misses the
--   other.
CREATE TABLE speech_zone (
    one   boolean PRIMARY KEY DEFAULT true CHECK (one),
    zone  text NOT NULL
);
-- The service's default METRICS_TIMEZONE; `rebuild-metrics` sets another (the metrics read the rows themselves
-- while the two differ).
INSERT INTO speech_zone (zone) VALUES ('Asia/Shanghai');

CREATE TABLE speech_days (
    community_id    bigint NOT NULL,
    day             date NOT NULL,
    author_id       bigint NOT NULL,
    posts           integer NOT NULL DEFAULT 0,
    comments        integer NOT NULL DEFAULT 0,
    valid_posts     integer NOT NULL DEFAULT 0,  -- basic-valid: repeats are taken off when read
    valid_comments  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (community_id, day, author_id)
);

CREATE TABLE speech_keys (
    community_id  bigint NOT NULL,
    author_id     bigint NOT NULL,
    key           uuid NOT NULL,
    row_count     integer NOT NULL,
    first_kind    text NOT NULL,  -- the row that took the key first: flagged when a second one comes
    first_id      bigint NOT NULL,
    PRIMARY KEY (community_id, author_id, key)
);

ALTER TABLE posts ADD COLUMN speech_repeat boolean NOT NULL DEFAULT false;
ALTER TABLE comments ADD COLUMN speech_repeat boolean NOT NULL DEFAULT false;

-- The text as the repeat rule compares it (case and runs of whitespace aside), with the image count.
CREATE FUNCTION speech_key(body text, images integer) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN md5(regexp_replace(lower(btrim(body)), '\s+', ' ', 'g') || '/' || images)::uuid;

-- One row's share of the roll-up, added (sign 1) or taken back (sign -1). PL/pgSQL functions keep their plans for
-- the session (a SQL function's would be planned on every call).
CREATE FUNCTION speech_count(kind text, community bigint, author bigint, at timestamptz, valid boolean, sign integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    local_zone text := (SELECT zone FROM speech_zone);  -- apart: Citus takes no subquery in INSERT ... VALUES
BEGIN
    INSERT INTO speech_days AS d (community_id, day, author_id, posts, comments, valid_posts, valid_comments)
    VALUES (community, (at AT TIME ZONE local_zone)::date, author,
            CASE WHEN kind = 'post' THEN sign ELSE 0 END, CASE WHEN kind = 'comment' THEN sign ELSE 0 END,
            CASE WHEN kind = 'post' AND valid THEN sign ELSE 0 END,
            CASE WHEN kind = 'comment' AND valid THEN sign ELSE 0 END)
    ON CONFLICT (community_id, day, author_id) DO UPDATE
    SET posts = d.posts + excluded.posts, comments = d.comments + excluded.comments,
        valid_posts = d.valid_posts + excluded.valid_posts, valid_comments = d.valid_comments + excluded.valid_comments;
END $$;

CREATE FUNCTION speech_flag(kind text, row_id bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF kind = 'post' THEN
        UPDATE posts SET speech_repeat = true WHERE id = row_id AND NOT speech_repeat;
    ELSE
        UPDATE comments SET speech_repeat = true WHERE id = row_id AND NOT speech_repeat;
    END IF;
END $$;

CREATE FUNCTION speech_take_key(kind text, community bigint, author bigint, k uuid, row_id bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    taken integer;
    f_kind text;
    f_id bigint;
BEGIN
    INSERT INTO speech_keys AS s (community_id, author_id, key, row_count, first_kind, first_id)
    VALUES (community, author, k, 1, kind, row_id)
    ON CONFLICT (community_id, author_id, key) DO UPDATE SET row_count = s.row_count + 1
    RETURNING s.row_count, s.first_kind, s.first_id INTO taken, f_kind, f_id;
    IF taken >= 2 THEN
        PERFORM speech_flag(f_kind, f_id);
        PERFORM speech_flag(kind, row_id);
    END IF;
END $$;

CREATE FUNCTION speech_release_key(community bigint, author bigint, k uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    remaining integer;
BEGIN
    UPDATE speech_keys SET row_count = row_count - 1 WHERE community_id = community AND author_id = author AND key = k
    RETURNING row_count INTO remaining;
    IF remaining <= 0 THEN
        DELETE FROM speech_keys WHERE community_id = community AND author_id = author AND key = k;
    END IF;
END $$;

-- Old and new state of one row: the roll-up moves only when what it counts changed.
CREATE FUNCTION speech_change(
    op text, kind text, row_id bigint,
    o_community bigint, o_author bigint, o_at timestamptz, o_visible boolean, o_text text, o_images integer,
    n_community bigint, n_author bigint, n_at timestamptz, n_visible boolean, n_text text, n_images integer
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    o_eligible boolean := op <> 'INSERT' AND o_author IS NOT NULL
                          AND (char_length(btrim(o_text)) >= 5 OR o_images > 0);
    n_eligible boolean := op <> 'DELETE' AND n_author IS NOT NULL
                          AND (char_length(btrim(n_text)) >= 5 OR n_images > 0);
    o_key uuid := CASE WHEN o_eligible THEN speech_key(o_text, o_images) END;
    n_key uuid := CASE WHEN n_eligible THEN speech_key(n_text, n_images) END;
BEGIN
    IF op <> 'UPDATE'
       OR (o_community, o_author, o_at, o_eligible AND o_visible)
          IS DISTINCT FROM (n_community, n_author, n_at, n_eligible AND n_visible) THEN
        IF op <> 'INSERT' AND o_author IS NOT NULL THEN
            PERFORM speech_count(kind, o_community, o_author, o_at, o_eligible AND o_visible, -1);
        END IF;
        IF op <> 'DELETE' AND n_author IS NOT NULL THEN
            PERFORM speech_count(kind, n_community, n_author, n_at, n_eligible AND n_visible, 1);
        END IF;
    END IF;
    IF op <> 'UPDATE' OR (o_community, o_author, o_key) IS DISTINCT FROM (n_community, n_author, n_key) THEN
        IF o_key IS NOT NULL THEN
            PERFORM speech_release_key(o_community, o_author, o_key);
        END IF;
        IF n_key IS NOT NULL THEN
            PERFORM speech_take_key(kind, n_community, n_author, n_key, row_id);
        END IF;
    END IF;
END $$;

CREATE FUNCTION speech_posts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM speech_change(TG_OP, 'post', NEW.id, NULL, NULL, NULL, NULL, NULL, NULL,
            NEW.community_id, NEW.author_id, NEW.created_at, NEW.status = 'visible' AND NEW.deleted_at IS NULL,
            NEW.text, cardinality(NEW.image_urls) + cardinality(NEW.image_ids));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM speech_change(TG_OP, 'post', OLD.id,
            OLD.community_id, OLD.author_id, OLD.created_at, OLD.status = 'visible' AND OLD.deleted_at IS NULL,
            OLD.text, cardinality(OLD.image_urls) + cardinality(OLD.image_ids),
            NULL, NULL, NULL, NULL, NULL, NULL);
    ELSE
        PERFORM speech_change(TG_OP, 'post', NEW.id,
            OLD.community_id, OLD.author_id, OLD.created_at, OLD.status = 'visible' AND OLD.deleted_at IS NULL,
            OLD.text, cardinality(OLD.image_urls) + cardinality(OLD.image_ids),
            NEW.community_id, NEW.author_id, NEW.created_at, NEW.status = 'visible' AND NEW.deleted_at IS NULL,
            NEW.text, cardinality(NEW.image_urls) + cardinality(NEW.image_ids));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION speech_comments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM speech_change(TG_OP, 'comment', NEW.id, NULL, NULL, NULL, NULL, NULL, NULL,
            NEW.community_id, NEW.author_id, NEW.created_at, NEW.status = 'visible' AND NEW.deleted_at IS NULL,
            NEW.text, (NEW.image_id IS NOT NULL)::int);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM speech_change(TG_OP, 'comment', OLD.id,
            OLD.community_id, OLD.author_id, OLD.created_at, OLD.status = 'visible' AND OLD.deleted_at IS NULL,
            OLD.text, (OLD.image_id IS NOT NULL)::int,
            NULL, NULL, NULL, NULL, NULL, NULL);
    ELSE
        PERFORM speech_change(TG_OP, 'comment', NEW.id,
            OLD.community_id, OLD.author_id, OLD.created_at, OLD.status = 'visible' AND OLD.deleted_at IS NULL,
            OLD.text, (OLD.image_id IS NOT NULL)::int,
            NEW.community_id, NEW.author_id, NEW.created_at, NEW.status = 'visible' AND NEW.deleted_at IS NULL,
            NEW.text, (NEW.image_id IS NOT NULL)::int);
    END IF;
    RETURN NULL;
END $$;

-- The roll-up from the rows themselves: the migration's backfill, and `rebuild-metrics` (which first locks posts and
-- comments against writers and sets the zone).
CREATE FUNCTION speech_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
TRUNCATE speech_days, speech_keys;
UPDATE posts SET speech_repeat = false WHERE speech_repeat;
UPDATE comments SET speech_repeat = false WHERE speech_repeat;

INSERT INTO speech_days (community_id, day, author_id, posts, comments, valid_posts, valid_comments)
SELECT community_id, (created_at AT TIME ZONE (SELECT zone FROM speech_zone))::date, author_id, sum(post),
       sum(1 - post), sum(post * valid), sum((1 - post) * valid)
FROM (
    SELECT community_id, author_id, created_at, 1 AS post,
           (status = 'visible' AND deleted_at IS NULL
            AND (char_length(btrim(text)) >= 5 OR cardinality(image_urls) + cardinality(image_ids) > 0))::int AS valid
    FROM posts WHERE author_id IS NOT NULL
    UNION ALL
    SELECT community_id, author_id, created_at, 0,
           (status = 'visible' AND deleted_at IS NULL AND (char_length(btrim(text)) >= 5 OR image_id IS NOT NULL))::int
    FROM comments WHERE author_id IS NOT NULL
) speech
GROUP BY 1, 2, 3;

DROP TABLE IF EXISTS speech_backfill;
CREATE TEMPORARY TABLE speech_backfill ON COMMIT DROP AS
SELECT community_id, author_id, speech_key(text, images) AS key, kind, id
FROM (
    SELECT community_id, author_id, text, cardinality(image_urls) + cardinality(image_ids) AS images, 'post' AS kind, id
    FROM posts WHERE author_id IS NOT NULL
    UNION ALL
    SELECT community_id, author_id, text, (image_id IS NOT NULL)::int, 'comment', id
    FROM comments WHERE author_id IS NOT NULL
) speech
WHERE char_length(btrim(text)) >= 5 OR images > 0;

INSERT INTO speech_keys (community_id, author_id, key, row_count, first_kind, first_id)
SELECT DISTINCT ON (community_id, author_id, key) community_id, author_id, key,
       count(*) OVER (PARTITION BY community_id, author_id, key), kind, id
FROM speech_backfill
ORDER BY community_id, author_id, key, kind, id;

UPDATE posts p SET speech_repeat = true
FROM speech_backfill b JOIN speech_keys k USING (community_id, author_id, key)
WHERE k.row_count >= 2 AND b.kind = 'post' AND p.id = b.id;
UPDATE comments c SET speech_repeat = true
FROM speech_backfill b JOIN speech_keys k USING (community_id, author_id, key)
WHERE k.row_count >= 2 AND b.kind = 'comment' AND c.id = b.id;
DROP TABLE speech_backfill;
END $$;

CREATE INDEX posts_speech_repeats ON posts (community_id, created_at) WHERE speech_repeat;
CREATE INDEX comments_speech_repeats ON comments (community_id, created_at) WHERE speech_repeat;

-- Backfill from the rows already written, before the triggers (nothing counted twice).
SELECT speech_rebuild();

-- What the roll-up counts: who wrote a row, where, when, whether it is visible, its text and images.
CREATE TRIGGER posts_speech AFTER INSERT OR DELETE
    OR UPDATE OF community_id, author_id, created_at, status, deleted_at, text, image_urls, image_ids ON posts
    FOR EACH ROW EXECUTE FUNCTION speech_posts();
CREATE TRIGGER comments_speech AFTER INSERT OR DELETE
    OR UPDATE OF community_id, author_id, created_at, status, deleted_at, text, image_id ON comments
    FOR EACH ROW EXECUTE FUNCTION speech_comments();
