-- Search inside a community, and pinned notices (docs/search.md).

-- The words of a text as a tsvector, for search. Chinese has no spaces, so every run of CJK characters (Han,
-- kana, Hangul) gives its overlapping bigrams and its last character ('跑步了' -> 跑步 步了 了): any substring
-- of two or more characters is a phrase of consecutive bigrams, one character a prefix. Other words are runs
-- of ASCII letters and digits (and Latin-1/Extended letters), ASCII-lowercased. Built in plain SQL with no
-- extension and no locale dependence, so the embedded PostgreSQL (pgserver: no pg_trgm, no zhparser) and
-- any server give the same terms; service/feed/search.py builds queries with the same rules.
CREATE FUNCTION search_terms(doc text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH runs AS (
        SELECT r.m[1] AS run, r.n, r.m[1] ~ '^[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]' AS cjk
        FROM regexp_matches(
            translate(doc, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
            '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+|[0-9a-z\u00c0-\u024f]+', 'g'
        ) WITH ORDINALITY AS r(m, n)
    ), placed AS (
        SELECT run, cjk, coalesce(sum(CASE WHEN cjk THEN length(run) ELSE 1 END)
                                  OVER (ORDER BY n ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS start
        FROM runs
    )
    -- Terms hold no quote or backslash (letters only), so they are written as tsvector lexemes as they are;
    -- a long word is cut (a lexeme must stay under 2 KB).
    SELECT coalesce(string_agg(
        CASE WHEN cjk THEN substr(run, i, 2) ELSE left(run, 64) END || ':' || least(start + i, 16383), ' '
    ), '')::tsvector
    FROM placed CROSS JOIN LATERAL generate_series(1, CASE WHEN cjk THEN length(run) ELSE 1 END) AS i
$$;

-- Stored, so ranking a hit never segments its text again; the feed's writes need no change.
ALTER TABLE posts ADD COLUMN search_terms tsvector GENERATED ALWAYS AS (search_terms(text)) STORED;
ALTER TABLE comments ADD COLUMN search_terms tsvector GENERATED ALWAYS AS (search_terms(text)) STORED;
CREATE INDEX posts_search ON posts USING gin (search_terms) WHERE deleted_at IS NULL;
CREATE INDEX comments_search ON comments USING gin (search_terms) WHERE deleted_at IS NULL;

-- Pinned notices: up to 3 posts per community (checked under the community's row lock), shown first in the
-- feed in the order pinned (id).
CREATE TABLE post_pins (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id  bigint NOT NULL REFERENCES communities (id),
    post_id       bigint NOT NULL UNIQUE REFERENCES posts (id),
    pinned_by     bigint NOT NULL REFERENCES users (id),
    pinned_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX post_pins_of_community ON post_pins (community_id, id);
