-- Search folds full-width digits and letters (a Chinese keyboard's full-width mode types ｉＰｈｏｎｅ１５) to ASCII,
-- as service/feed/search.py folds a query: written either way, iPhone 15 is found either way. The same function
-- as 0024 but for the folding translate(), one character for one (a snippet's offsets stay the text's).
CREATE OR REPLACE FUNCTION search_terms(doc text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH runs AS (
        SELECT r.m[1] AS run, r.n, r.m[1] ~ '^[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]' AS cjk
        FROM regexp_matches(
            translate(
                doc,
                'ABCDEFGHIJKLMNOPQRSTUVWXYZ０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ',
                'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz'
            ),
            '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+|[0-9a-z\u00c0-\u024f]+', 'g'
        ) WITH ORDINALITY AS r(m, n)
    ), placed AS (
        SELECT run, cjk, coalesce(sum(CASE WHEN cjk THEN length(run) ELSE 1 END)
                                  OVER (ORDER BY n ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS start
        FROM runs
    )
    SELECT coalesce(string_agg(
        CASE WHEN cjk THEN substr(run, i, 2) ELSE left(run, 64) END || ':' || least(start + i, 16383), ' '
    ), '')::tsvector
    FROM placed CROSS JOIN LATERAL generate_series(1, CASE WHEN cjk THEN length(run) ELSE 1 END) AS i
$$;

-- The stored terms of texts written before: only those holding a full-width digit or letter change, recomputed by
-- writing their text again (the speech roll-up's triggers see the same text and change nothing; updated_at is left
-- alone: nobody edited them).
UPDATE posts SET text = text WHERE text ~ '[０-９Ａ-Ｚａ-ｚ]';
UPDATE comments SET text = text WHERE text ~ '[０-９Ａ-Ｚａ-ｚ]';
