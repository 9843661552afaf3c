-- Citus, once the data outgrows one PostgreSQL server: where every table goes (infra/README.md, "How it scales").
-- `python -m service distribute` runs it on a Citus coordinator (service/db/citus.py): top to bottom, skipping
-- what is already in place, and around it the key changes Citus requires (a distributed table's primary and
-- unique keys gain its distribution column; foreign keys between co-located tables gain community_id). The order
-- matters: reference tables first (everything points at users), then communities, then what is co-located with
-- it. tests/test_infra.py checks it against the migrated schema: every table is named here exactly once, every
-- distribution column exists and is NOT NULL, and what is distributed by community_id is co-located with
-- communities. So a new table cannot close this path unnoticed: its migration must give it a place here. A
-- table without its column yet may wait as `-- pending: <table> <column> (from where)`, which the test allows
-- only while the column is missing (and the command refuses to run while one waits).

-- Read by every community's queries (authors in a feed page, robot names, app prices, pools), written rarely:
-- a copy on every node. `users` is the big one; profile edits then write to every node, which logins and
-- nickname changes can afford.
SELECT create_reference_table('users');
SELECT create_reference_table('robots');
SELECT create_reference_table('app_prices');
SELECT create_reference_table('reward_pools');
-- Stored images by content (shared by every uploader of the same file) and WeChat's checks of them: one row
-- per distinct photo, read by every upload's deduplication and every verdict.
SELECT create_reference_table('media_objects');
SELECT create_reference_table('media_checks');
SELECT create_reference_table('media_early_verdicts');
-- The uploads themselves: every feed page joins them for its posts' photos, so they sit beside every shard (an
-- upload writes to every node, like a profile edit).
SELECT create_reference_table('media');
-- Brands, their teams and series: read by every access check of a brand's communities, written rarely.
SELECT create_reference_table('brands');
SELECT create_reference_table('brand_admins');
SELECT create_reference_table('community_series');
SELECT create_reference_table('brand_exports');
-- Blocks between members: every feed page and member list filters by them, whatever the community.
SELECT create_reference_table('member_blocks');
-- A member's opt-out of the warm-up robot's introductions: read by every community's nudges.
SELECT create_reference_table('interest_preferences');
-- The one zone of the speech roll-up's days, read by the triggers of posts and comments on every shard.
SELECT create_reference_table('speech_zone');

-- Everything that belongs to one community, distributed by community id and co-located with `communities`:
-- a feed page, a join, a payment's admission, a poll vote or a metrics query runs on one shard. At distribution
-- time their primary and unique keys gain community_id (e.g. posts (community_id, id)), as Citus requires.
SELECT create_distributed_table('communities', 'id');
SELECT create_distributed_table('memberships', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('join_requests', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('invites', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('referrals', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('community_audit_log', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('community_entries', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('community_stages', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('community_apps', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('posts', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('comments', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('post_likes', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('post_likers', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('post_shares', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('post_pins', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('invite_posters', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('share_group_opens', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('feed_digests', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('feed_notifications', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('robot_rules', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('robot_replies', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('warmup_settings', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('warmup_topics', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('interaction_events', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('presence_sessions', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('rollup_views', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('rollup_presence', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('rollup_contributions', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('rollup_days', 'community_id', colocate_with => 'communities');
-- The speech roll-up (0029), kept by triggers on posts and comments: each row's trigger writes beside it. Citus
-- runs triggers on distributed tables with citus.enable_unsafe_triggers (they touch only co-located shards).
SELECT create_distributed_table('speech_days', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('speech_keys', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('reward_allocations', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('polls', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('poll_proposals', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('trial_qualifications', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('trial_feedback', 'community_id', colocate_with => 'communities');
-- A member's spends of check-in points live beside the redeemed qualification (its poll's community); the balance
-- of a brand sums them, and the check-ins, over the brand's shards.
SELECT create_distributed_table('point_spends', 'community_id', colocate_with => 'communities');
-- Their refunds (a place that expired unclaimed) live beside the spend they compensate.
SELECT create_distributed_table('point_refunds', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('collections', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('activities', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('activity_occurrences', 'community_id', colocate_with => 'communities');
-- A check-in post that is deleted or rejected voids its check-in by a trigger on posts (migration 0046), which writes
-- only the co-located check_ins shard of the same community, as the speech roll-up's do.
SELECT create_distributed_table('check_ins', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('meetups', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('meetup_signups', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('payouts', 'community_id', colocate_with => 'communities');
-- These reach their community through a parent row and carry a copy of its community_id (migration 0013), so
-- the child lives on its parent's shard. The money tables above all: a payment's transaction locks the order and
-- admits the payer, one shard because the order lives beside its community.
SELECT create_distributed_table('orders', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('refunds', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('ledger_entries', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('transfers', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('collection_participants', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('app_purchases', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('poll_votes', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('poll_participants', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('poll_audit', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('poll_posts', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('content_checks', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('robot_cooldowns', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('moderation_cases', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('reports', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('moderation_actions', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('mention_notices', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('member_interests', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('community_interests', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('post_tags', 'community_id', colocate_with => 'communities');
SELECT create_distributed_table('warmup_nudges', 'community_id', colocate_with => 'communities');

-- Per member, co-located with each other by user id: sessions and the answers kept for Idempotency-Key.
SELECT create_distributed_table('refresh_tokens', 'user_id');
SELECT create_distributed_table('idempotent_requests', 'user_id', colocate_with => 'refresh_tokens');
-- A member's inbox: read, counted and marked by its owner.
SELECT create_distributed_table('inbox_items', 'user_id', colocate_with => 'refresh_tokens');
-- A member's pending deletion (注销), read at login and by the erasure job.
SELECT create_distributed_table('account_deletions', 'user_id', colocate_with => 'refresh_tokens');

-- On the coordinator only: the job queue (workers claim with FOR UPDATE SKIP LOCKED on one table), the shared
-- WeChat access token, login rate limits, WeChat's message pushes (and the signed queries they came with),
-- roll-up watermarks and the migrations.
-- (wechat_messages.rule_id then stays a plain column: a local table cannot reference a distributed one.)
SELECT citus_add_local_table_to_metadata('jobs');
SELECT citus_add_local_table_to_metadata('wechat_access_tokens');
SELECT citus_add_local_table_to_metadata('rate_limits');
SELECT citus_add_local_table_to_metadata('wechat_messages');
SELECT citus_add_local_table_to_metadata('wechat_push_seals');
SELECT citus_add_local_table_to_metadata('rollup_state');
SELECT citus_add_local_table_to_metadata('interest_progress');
SELECT citus_add_local_table_to_metadata('schema_migrations');
