-- The speech roll-up's triggers (0029) flag repeated rows by community and id. On Citus the triggers run on the
-- shards, where a statement must name the distribution column (community_id) to stay on the co-located shard: by
-- id alone it fans out to every shard, which Citus refuses from inside a shard's trigger ("cannot execute a
-- distributed query from a query on a shard"). On one PostgreSQL the same rows are flagged.
CREATE FUNCTION speech_flag(kind text, community bigint, row_id bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF kind = 'post' THEN
        UPDATE posts SET speech_repeat = true WHERE community_id = community AND id = row_id AND NOT speech_repeat;
    ELSE
        UPDATE comments SET speech_repeat = true WHERE community_id = community AND id = row_id AND NOT speech_repeat;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION speech_take_key(kind text, community bigint, author bigint, k uuid, row_id bigint)
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
        PERFORM speech_flag(f_kind, community, f_id);
        PERFORM speech_flag(kind, community, row_id);
    END IF;
END $$;

DROP FUNCTION speech_flag(text, bigint);
