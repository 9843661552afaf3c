-- The distribution key (infra/citus.sql) for the 12 tables that reached their community only through a parent
-- row: each gets a NOT NULL community_id, backfilled here from the parent and written by every insert from now on.
-- Columns first, filled, then NOT NULL and the foreign keys: one check per table instead of one per row updated.
ALTER TABLE orders ADD COLUMN community_id bigint;
ALTER TABLE refunds ADD COLUMN community_id bigint;
ALTER TABLE ledger_entries ADD COLUMN community_id bigint;
ALTER TABLE transfers ADD COLUMN community_id bigint;
ALTER TABLE collection_participants ADD COLUMN community_id bigint;
ALTER TABLE app_purchases ADD COLUMN community_id bigint;
ALTER TABLE poll_votes ADD COLUMN community_id bigint;
ALTER TABLE poll_participants ADD COLUMN community_id bigint;
ALTER TABLE poll_audit ADD COLUMN community_id bigint;
ALTER TABLE poll_posts ADD COLUMN community_id bigint;
ALTER TABLE content_checks ADD COLUMN community_id bigint;
ALTER TABLE robot_cooldowns ADD COLUMN community_id bigint;

-- Orders and transfers: the community of what the purpose's subject_id names.
UPDATE orders o SET community_id = CASE o.purpose
    WHEN 'community_entry' THEN o.subject_id
    WHEN 'collection_share' THEN (SELECT c.community_id FROM collections c WHERE c.id = o.subject_id)
    WHEN 'app' THEN (SELECT a.community_id FROM community_apps a WHERE a.id = o.subject_id)
    WHEN 'meetup' THEN (SELECT s.community_id FROM meetup_signups s WHERE s.id = o.subject_id)
END;
UPDATE transfers t SET community_id = CASE t.purpose
    WHEN 'collection_share' THEN (SELECT c.community_id FROM collections c WHERE c.id = t.subject_id)
    WHEN 'reward' THEN (SELECT r.community_id FROM reward_allocations r WHERE r.id = t.subject_id)
END;

-- A purpose this migration does not know would only fail at SET NOT NULL below: name it instead.
DO $$
DECLARE
    unknown text;
BEGIN
    SELECT string_agg(DISTINCT kind || ' ' || purpose, ', ') INTO unknown FROM (
        SELECT 'order' AS kind, purpose FROM orders WHERE community_id IS NULL
        UNION ALL
        SELECT 'transfer', purpose FROM transfers WHERE community_id IS NULL
    ) orphans;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'no community found for % (purpose unknown to 0013, or its subject is gone)', unknown;
    END IF;
END
$$;

UPDATE refunds r SET community_id = o.community_id FROM orders o WHERE o.id = r.order_id;
UPDATE ledger_entries l SET community_id = coalesce(
    (SELECT o.community_id FROM orders o WHERE o.id = l.order_id),
    (SELECT t.community_id FROM transfers t WHERE t.id = l.transfer_id)
);
UPDATE collection_participants p SET community_id = c.community_id FROM collections c WHERE c.id = p.collection_id;
UPDATE app_purchases p SET community_id = a.community_id FROM community_apps a WHERE a.id = p.community_app_id;
UPDATE poll_votes v SET community_id = p.community_id FROM polls p WHERE p.id = v.poll_id;
UPDATE poll_participants x SET community_id = p.community_id FROM polls p WHERE p.id = x.poll_id;
UPDATE poll_audit a SET community_id = p.community_id FROM polls p WHERE p.id = a.poll_id;
UPDATE poll_posts x SET community_id = p.community_id FROM polls p WHERE p.id = x.poll_id;
UPDATE content_checks k SET community_id = coalesce(
    (SELECT p.community_id FROM posts p WHERE p.id = k.post_id),
    (SELECT c.community_id FROM comments c WHERE c.id = k.comment_id)
);
UPDATE robot_cooldowns d SET community_id = r.community_id FROM robot_rules r WHERE r.id = d.rule_id;

-- refunds and ledger_entries hold a plain copy of their order's (or transfer's) community, without a foreign key:
-- its check takes FOR KEY SHARE on the community row, and the payment's and refund's transactions then lock that
-- row FOR UPDATE (admit, leave), so two of them in one community would deadlock. The order references it.
ALTER TABLE orders ALTER COLUMN community_id SET NOT NULL, ADD FOREIGN KEY (community_id) REFERENCES communities (id);
ALTER TABLE refunds ALTER COLUMN community_id SET NOT NULL;
ALTER TABLE ledger_entries ALTER COLUMN community_id SET NOT NULL;
ALTER TABLE transfers ALTER COLUMN community_id SET NOT NULL,
    ADD FOREIGN KEY (community_id) REFERENCES communities (id);
ALTER TABLE collection_participants ALTER COLUMN community_id SET NOT NULL,
    ADD FOREIGN KEY (community_id) REFERENCES communities (id);
ALTER TABLE app_purchases ALTER COLUMN community_id SET NOT NULL,
    ADD FOREIGN KEY (community_id) REFERENCES communities (id);
ALTER TABLE poll_votes ALTER COLUMN community_id SET NOT NULL,
    ADD FOREIGN KEY (community_id) REFERENCES communities (id);
ALTER TABLE poll_participants ALTER COLUMN community_id SET NOT NULL,
    ADD FOREIGN KEY (community_id) REFERENCES communities (id);
ALTER TABLE poll_audit ALTER COLUMN community_id SET NOT NULL,
    ADD FOREIGN KEY (community_id) REFERENCES communities (id);
ALTER TABLE poll_posts ALTER COLUMN community_id SET NOT NULL,
    ADD FOREIGN KEY (community_id) REFERENCES communities (id);
ALTER TABLE content_checks ALTER COLUMN community_id SET NOT NULL,
    ADD FOREIGN KEY (community_id) REFERENCES communities (id);
ALTER TABLE robot_cooldowns ALTER COLUMN community_id SET NOT NULL,
    ADD FOREIGN KEY (community_id) REFERENCES communities (id);
