-- Search reads as Chinese the Han characters 0024 left out, and Bopomofo: the ideographic iteration mark 々 (U+3005)
-- and number zero 〇 (U+3007: 二〇二六年, 〇〇群), Bopomofo (U+3100-U+312F, U+31A0-U+31BF), and the ideographs of
-- the supplementary planes (U+20000-U+3FFFF: Extension B and later, the compatibility supplement; 𠮷野家). They were
-- in no run, so a text's words with them were never indexed and a query of them was blank; service/feed/search.py
-- reads the same class. The same function as 0056 but for the CJK class (twice).
CREATE OR REPLACE FUNCTION search_terms(doc text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH runs AS (
        SELECT r.m[1] AS run, r.n,
               r.m[1] ~ '^[\u3005\u3007\u3040-\u30ff\u3100-\u312f\u31a0-\u31bf\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003ffff]' AS cjk
        FROM regexp_matches(
            translate(
                doc,
                'ABCDEFGHIJKLMNOPQRSTUVWXYZ０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ',
                'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz'
            ),
            '[\u3005\u3007\u3040-\u30ff\u3100-\u312f\u31a0-\u31bf\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003ffff]+|[0-9a-z\u00c0-\u024f]+',
            'g'
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

-- The stored terms of texts written before: only those holding one of these characters change, recomputed by writing
-- their text again, as 0056 did (the speech roll-up's triggers see the same text and change nothing; updated_at is
-- left alone). No index is rebuilt: posts_search and comments_search index the stored column, and take the new terms
-- of just the rows rewritten. Each statement reads every post, then every comment, once (a sequential scan and a
-- regular expression per text; nothing waits on it but writes to the few rows rewritten).
UPDATE posts SET text = text WHERE text ~ '[\u3005\u3007\u3100-\u312f\u31a0-\u31bf\U00020000-\U0003ffff]';
UPDATE comments SET text = text WHERE text ~ '[\u3005\u3007\u3100-\u312f\u31a0-\u31bf\U00020000-\U0003ffff]';
