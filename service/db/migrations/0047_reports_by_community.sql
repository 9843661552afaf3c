-- One report per reporter and target *in its community*: a member is a target in each community they belong to
-- (targetId is their user id), and misbehaving in a second community is a second case for other admins. The key
-- was (reporter, kind, target): reporting them in another community answered `already_reported`. Posts, comments
-- and communities belong to one community, so their rows stay unique alike. Citus widens keys with community_id
-- (service/db/citus.py): a distributed `reports` already held these columns (community_id first), same name.
ALTER TABLE reports DROP CONSTRAINT reports_reporter_id_target_kind_target_id_key,
    ADD CONSTRAINT reports_reporter_id_target_kind_target_id_key UNIQUE (reporter_id, target_kind, target_id, community_id);
