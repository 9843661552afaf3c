"""Migrations: ordered, checksummed, serialised across concurrent runners, enforced at start-up."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pytest

from service.app import create_app
from service.db import migrate as migrations
from service.db.pool import connect
from tests.support import create_database, drop_database, http_client, make_settings, serve, unique_name, with_database


@pytest.fixture
async def empty_database(admin_url):
    name = unique_name("m")
    await create_database(admin_url, name)
    yield with_database(admin_url, name)
    await drop_database(admin_url, name)


async def test_concurrent_runners_apply_each_migration_once(empty_database):
    conns = [await connect(empty_database) for _ in range(5)]
    try:
        results = await asyncio.gather(*(migrations.migrate(conn) for conn in conns))
        applied = [m.version for result in results for m in result]
        assert sorted(applied) == [m.version for m in migrations.discover()]
        rows = await conns[0].fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
        assert [(r["version"], r["checksum"]) for r in rows] == [(m.version, m.checksum) for m in migrations.discover()]
        assert await migrations.pending(conns[0]) == []
    finally:
        for conn in conns:
            await conn.close()


async def test_a_changed_migration_is_refused(empty_database):
    conn = await connect(empty_database)
    try:
        await migrations.migrate(conn)
        first = migrations.discover()[0]
        edited = [dataclasses.replace(first, sql=first.sql + "\n-- edited"), *migrations.discover()[1:]]
        with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
            await migrations.pending(conn, edited)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_behind(empty_database):
    conn = await connect(empty_database)
    try:
        broken = [
            *migrations.discover(),
            migrations.Migration(9998, "good_half", "CREATE TABLE half_done (id int)"),
            migrations.Migration(9999, "broken", "CREATE TABLE never (id int); SELECT no_such_function()"),
        ]
        with pytest.raises(Exception, match="no_such_function"):
            await migrations.migrate(conn, broken)
        assert await conn.fetchval("SELECT to_regclass('never')") is None
        assert await conn.fetchval("SELECT to_regclass('half_done')") is not None
        assert [m.version for m in await migrations.pending(conn, broken)] == [9999]
    finally:
        await conn.close()


async def test_app_refuses_to_start_with_pending_migrations(empty_database):
    app = create_app(make_settings(empty_database))
    with pytest.raises(ExceptionGroup) as raised:
        async with app.lifespan():
            pass
    assert raised.group_contains(RuntimeError, match="migrations pending")


async def test_app_can_migrate_at_start_when_configured(empty_database):

    async with serve(create_app(make_settings(empty_database, migrate_on_start=True))) as base_url:
        async with http_client(base_url=base_url) as client:
            assert (await client.get("/readyz")).status_code == 200


def up_to(version: int) -> list[migrations.Migration]:
    return [m for m in migrations.discover() if m.version <= version]


@asynccontextmanager
async def migrated_over(database: str, version: int, rows: str) -> AsyncIterator[asyncpg.Connection]:
    """The database migrated to just before ``version``, ``rows`` written as they stood then, then migrated to
    the end: a migration's backfill at work."""
    conn = await connect(database)
    try:
        await migrations.migrate(conn, up_to(version - 1))
        await conn.execute(rows)
        await migrations.migrate(conn)
        yield conn
    finally:
        await conn.close()


# Rows as they stood before 0013 gave the last 12 tables their community_id: every parent in a community of its
# own (named after it), so a row backfilled from the wrong parent or purpose shows up under the wrong name.
ROWS_BEFORE_0013 = """
INSERT INTO users (appid, openid) VALUES ('wx-test-app', 'owner'), ('wx-test-app', 'payer');
INSERT INTO communities (owner_id, name, welcome_template)
SELECT id, name, '' FROM users, unnest(ARRAY['entry', 'collection', 'app', 'meetup', 'reward', 'poll', 'feed']) name
WHERE openid = 'owner';

INSERT INTO collections (community_id, initiator_id, title, amount_fen, deadline, participant_count)
SELECT id, owner_id, 'gift', 500, now() + interval '1 day', 1 FROM communities WHERE name = 'collection';
INSERT INTO collection_participants (collection_id, user_id) SELECT id, initiator_id FROM collections;
INSERT INTO community_apps (community_id, app, enabled) SELECT id, 'polls', true FROM communities WHERE name = 'app';
INSERT INTO meetups (community_id, created_by, title, mode, starts_at, ends_at, signup_deadline, capacity, venue_code)
SELECT id, owner_id, 'meetup', 'online', now() + interval '2 days', now() + interval '3 days', now() + interval '1 day',
       10, 'code'
FROM communities WHERE name = 'meetup';
INSERT INTO meetup_signups (meetup_id, community_id, user_id, status)
SELECT m.id, m.community_id, u.id, 'confirmed' FROM meetups m, users u WHERE u.openid = 'payer';
INSERT INTO reward_pools (amount_fen, window_from, window_to, status, created_by)
VALUES (1000, '2026-01-01', '2026-01-31', 'committed', 'operator');
INSERT INTO reward_allocations (pool_id, community_id, user_id, amount_fen, basis)
SELECT p.id, c.id, c.owner_id, 1000, 1 FROM reward_pools p, communities c WHERE c.name = 'reward';

-- One order per purpose, each naming its subject; the meetup fee paid, refunded and in the ledger.
INSERT INTO orders (out_trade_no, payer_user_id, payer_openid, purpose, subject_id, description, amount_fen,
                    time_expire)
SELECT 'CK-' || s.purpose, u.id, u.openid, s.purpose, s.subject_id, s.purpose, 500, now() + interval '15 minutes'
FROM users u, (
    SELECT 'community_entry' AS purpose, id AS subject_id FROM communities WHERE name = 'entry'
    UNION ALL SELECT 'collection_share', id FROM collections
    UNION ALL SELECT 'app', id FROM community_apps
    UNION ALL SELECT 'meetup', id FROM meetup_signups
) s
WHERE u.openid = 'payer';
UPDATE orders SET status = 'paid', paid_fen = amount_fen, transaction_id = 'T-1', paid_at = now()
WHERE purpose = 'meetup';
INSERT INTO ledger_entries (kind, order_id, amount_fen) SELECT 'payment', id, amount_fen FROM orders WHERE paid_fen > 0;
INSERT INTO refunds (order_id, out_refund_no, amount_fen, initiated_by, reason)
SELECT id, 'RF-1', amount_fen, 'payer', 'changed my mind' FROM orders WHERE paid_fen > 0;
INSERT INTO ledger_entries (kind, order_id, refund_id, amount_fen)
SELECT 'refund', order_id, id, amount_fen FROM refunds;
INSERT INTO app_purchases (order_id, community_app_id, billing, price_fen)
SELECT id, subject_id, 'monthly', 500 FROM orders WHERE purpose = 'app';

-- One transfer per purpose that pays out; the reward's in the ledger.
INSERT INTO transfers (out_bill_no, payee_user_id, payee_openid, amount_fen, purpose, subject_id, remark, dedupe_key)
SELECT 'TR-' || s.purpose, u.id, u.openid, 500, s.purpose, s.subject_id, 'payout', s.purpose
FROM users u, (
    SELECT 'collection_share' AS purpose, id AS subject_id FROM collections
    UNION ALL SELECT 'reward', id FROM reward_allocations
) s
WHERE u.openid = 'owner';
INSERT INTO ledger_entries (kind, transfer_id, amount_fen) SELECT 'transfer', id, amount_fen FROM transfers
WHERE purpose = 'reward';

INSERT INTO polls (community_id, created_by, title, proposals_close_at, voting_close_at, votes_per_member,
                   proposals_per_member, draw_seed, seed_commitment)
SELECT id, owner_id, 'name it', now() + interval '1 day', now() + interval '2 days', 1, 1, 'seed', 'commitment'
FROM communities WHERE name = 'poll';
INSERT INTO poll_participants (poll_id, user_id) SELECT id, created_by FROM polls;
INSERT INTO poll_proposals (poll_id, community_id, proposer_id, name, name_key)
SELECT id, community_id, created_by, 'Star', 'star' FROM polls;
INSERT INTO poll_votes (poll_id, proposal_id, user_id) SELECT poll_id, id, proposer_id FROM poll_proposals;
INSERT INTO poll_audit (poll_id, actor_id, action) SELECT id, created_by, 'poll.opened' FROM polls;
INSERT INTO posts (community_id, robot, kind, text) SELECT community_id, 'poll', 'poll', 'vote!' FROM polls;
INSERT INTO poll_posts (poll_id, purpose, post_id)
SELECT p.id, 'announcement', x.id FROM polls p JOIN posts x USING (community_id);

-- A pending post in the feed community, a pending comment under the poll's post: each check from its own parent.
INSERT INTO posts (community_id, author_id, text, status) SELECT id, owner_id, 'held', 'pending' FROM communities
WHERE name = 'feed';
INSERT INTO comments (community_id, post_id, author_id, text, status)
SELECT x.community_id, x.id, u.id, 'held too', 'pending' FROM posts x, users u
WHERE x.robot = 'poll' AND u.openid = 'payer';
INSERT INTO content_checks (post_id) SELECT id FROM posts WHERE status = 'pending';
INSERT INTO content_checks (comment_id) SELECT id FROM comments;
INSERT INTO robot_rules (community_id, keyword, match_mode, reply, created_by)
SELECT id, 'hi', 'exact', 'hello', owner_id FROM communities WHERE name = 'feed';
INSERT INTO robot_cooldowns (rule_id, member, last_reply_at) SELECT id, 'user:1', now() FROM robot_rules;
"""

COMMUNITY_OF_EVERY_ROW = """
SELECT r.row, c.name FROM (
    SELECT 'orders ' || purpose AS row, community_id FROM orders
    UNION ALL SELECT 'refunds', community_id FROM refunds
    UNION ALL SELECT 'ledger_entries ' || kind, community_id FROM ledger_entries
    UNION ALL SELECT 'transfers ' || purpose, community_id FROM transfers
    UNION ALL SELECT 'collection_participants', community_id FROM collection_participants
    UNION ALL SELECT 'app_purchases', community_id FROM app_purchases
    UNION ALL SELECT 'poll_votes', community_id FROM poll_votes
    UNION ALL SELECT 'poll_participants', community_id FROM poll_participants
    UNION ALL SELECT 'poll_audit', community_id FROM poll_audit
    UNION ALL SELECT 'poll_posts', community_id FROM poll_posts
    UNION ALL SELECT 'content_checks ' || CASE WHEN post_id IS NULL THEN 'comment' ELSE 'post' END, community_id
              FROM content_checks
    UNION ALL SELECT 'robot_cooldowns', community_id FROM robot_cooldowns
) r LEFT JOIN communities c ON c.id = r.community_id
"""


async def test_0013_backfills_every_row_with_the_community_of_its_parent(empty_database):
    async with migrated_over(empty_database, 13, ROWS_BEFORE_0013) as conn:
        found = sorted((r["row"], r["name"]) for r in await conn.fetch(COMMUNITY_OF_EVERY_ROW))
    assert found == sorted(
        {
            "orders community_entry": "entry",  # the subject is the community
            "orders collection_share": "collection",
            "orders app": "app",
            "orders meetup": "meetup",  # the subject is the sign-up
            "refunds": "meetup",
            "ledger_entries payment": "meetup",
            "ledger_entries refund": "meetup",
            "ledger_entries transfer": "reward",
            "transfers collection_share": "collection",
            "transfers reward": "reward",  # the subject is the reward allocation
            "collection_participants": "collection",
            "app_purchases": "app",
            "poll_votes": "poll",
            "poll_participants": "poll",
            "poll_audit": "poll",
            "poll_posts": "poll",
            "content_checks post": "feed",
            "content_checks comment": "poll",
            "robot_cooldowns": "feed",
        }.items()
    )


async def test_0013_names_an_order_whose_community_it_cannot_find(empty_database):
    conn = await connect(empty_database)
    try:
        await migrations.migrate(conn, up_to(12))
        await conn.execute(
            "INSERT INTO users (appid, openid) VALUES ('wx-test-app', 'payer');"
            "INSERT INTO orders (out_trade_no, payer_user_id, payer_openid, purpose, description, amount_fen, "
            "time_expire) SELECT 'CK-1', id, openid, 'mystery', 'what is it', 100, now() FROM users"
        )
        with pytest.raises(Exception, match="no community found for order mystery"):
            await migrations.migrate(conn)
        assert [m.version for m in await migrations.pending(conn)][:1] == [13]  # and the later ones wait behind it
        column = "SELECT attname FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'community_id'"
        assert await conn.fetchval(column) is None  # nothing of 0013 stayed
    finally:
        await conn.close()


# Three places bought with points before 0035: one written down as expired (its points come back), one still open
# and one claimed (theirs stay spent).
PLACES_BEFORE_0035 = """
INSERT INTO users (appid, openid) SELECT 'wx-test-app', o FROM unnest(ARRAY['owner', 'ann', 'bo', 'cy']) o;
INSERT INTO communities (owner_id, name, welcome_template) SELECT id, 'c', '' FROM users WHERE openid = 'owner';
INSERT INTO brands (owner_id, name) SELECT id, 'brand' FROM users WHERE openid = 'owner';
INSERT INTO polls (community_id, created_by, title, proposals_close_at, voting_close_at, votes_per_member,
                   proposals_per_member, draw_seed, seed_commitment)
SELECT c.id, c.owner_id, 'poll', now() - interval '2 days', now() - interval '1 day', 1, 1, 's', 'c' FROM communities c;
INSERT INTO trial_qualifications (poll_id, community_id, user_id, position, expires_at, reason, status)
SELECT p.id, p.community_id, u.id, n, now() - interval '1 hour', 'redeemed', s
FROM polls p, unnest(ARRAY['ann', 'bo', 'cy'], ARRAY['expired', 'granted', 'claimed']) WITH ORDINALITY AS x (who, s, n)
JOIN users u ON u.openid = x.who;
INSERT INTO point_spends (user_id, brand_id, community_id, poll_id, qualification_id, points)
SELECT t.user_id, b.id, t.community_id, t.poll_id, t.id, 30 FROM trial_qualifications t, brands b;
"""


async def test_0035_refunds_the_places_that_had_expired_and_no_other(empty_database):
    async with migrated_over(empty_database, 35, PLACES_BEFORE_0035) as conn:
        refunded = await conn.fetch(
            "SELECT u.openid, r.points, r.reason, r.spend_id = s.id AS of_its_spend FROM point_refunds r "
            "JOIN users u ON u.id = r.user_id JOIN point_spends s ON s.qualification_id = r.qualification_id"
        )
        spends = await conn.fetchval("SELECT count(*) FROM point_spends")
    assert [tuple(r) for r in refunded] == [("ann", 30, "expired", True)]
    assert spends == 3  # the ledger is append-only: every spend stays


# Welcome posts as they stood before welcome_greeted: zoe greeted twice (she left and came back; her membership
# points to the second); ann and bo, and dee and eve, admitted two in one transaction (their greetings and audit
# entries share a time), dee and eve since gone from the community (no membership points to their greeting).
WELCOMES_BEFORE_GREETED = """
INSERT INTO users (appid, openid, nickname)
VALUES ('wx-test-app', 'owner', 'owner'), ('wx-test-app', 'zoe', 'zoe'), ('wx-test-app', 'ann', 'ann'),
       ('wx-test-app', 'bo', 'bo'), ('wx-test-app', 'cy', ''), ('wx-test-app', 'dee', 'dee'),
       ('wx-test-app', 'eve', 'eve');
INSERT INTO communities (owner_id, name, welcome_template) SELECT id, 'Runners', '' FROM users WHERE openid = 'owner';
INSERT INTO posts (community_id, robot, kind, text, created_at)
SELECT c.id, 'welcome', 'welcome', x.text, x.at FROM communities c,
       (VALUES ('hi zoe!', '2026-01-01'::timestamptz), ('hi zoe, again', '2026-02-01'), ('hi ann', '2026-03-01'),
               ('hi bo', '2026-03-01'), ('hi 新朋友', '2026-04-01'), ('hi dee', '2026-05-01'), ('hi eve', '2026-05-01')
       ) x (text, at);
INSERT INTO community_audit_log (community_id, action, subject_id, created_at)
SELECT c.id, 'member.joined', u.id, x.at FROM communities c, users u,
       (VALUES ('zoe', '2026-01-01'::timestamptz), ('zoe', '2026-02-01'), ('ann', '2026-03-01'), ('bo', '2026-03-01'),
               ('cy', '2026-04-01'), ('dee', '2026-05-01'), ('eve', '2026-05-01')) x (who, at)
WHERE u.openid = x.who;
INSERT INTO memberships (community_id, user_id, via, welcome_post_id)
SELECT p.community_id, u.id, 'free', p.id FROM posts p, users u
WHERE (u.openid, p.text) IN (('zoe', 'hi zoe, again'), ('ann', 'hi ann'), ('bo', 'hi bo'));
"""


async def test_welcome_greeted_names_the_member_each_welcome_post_greeted(empty_database):
    version = next(m.version for m in migrations.discover() if m.name == "welcome_greeted")
    async with migrated_over(empty_database, version, WELCOMES_BEFORE_GREETED) as conn:
        rows = await conn.fetch(
            "SELECT p.text, u.openid, p.greeting FROM posts p LEFT JOIN users u ON u.id = p.greeted_id ORDER BY p.id"
        )
    assert [tuple(row) for row in rows] == [
        ("hi zoe!", "zoe", ["hi ", "!"]),  # found by its audit entry
        ("hi zoe, again", "zoe", ["hi ", ", again"]),
        ("hi ann", "ann", ["hi ", ""]),  # the memberships point to both of one transaction's greetings
        ("hi bo", "bo", ["hi ", ""]),
        ("hi 新朋友", "cy", None),  # no nickname: nothing of the member in the text
        ("hi dee", None, None),  # which of the two it greeted is not known: left as it was
        ("hi eve", None, None),
    ]


# Check-ins as they stood before 0046: ann checked into four days running and later deleted the post of the second;
# bo's only check-in was removed by moderation (its post rejected).
CHECK_INS_BEFORE_0046 = """
INSERT INTO users (appid, openid) SELECT 'wx-test-app', o FROM unnest(ARRAY['owner', 'ann', 'bo']) o;
INSERT INTO communities (owner_id, name, welcome_template) SELECT id, 'c', '' FROM users WHERE openid = 'owner';
INSERT INTO activities (community_id, created_by, title, prompt, recurrence, starts_on, window_start, window_end,
                        reward_points)
SELECT id, owner_id, 'early', 'run', 'daily', '2026-03-01', '06:00', '09:00', 10 FROM communities;
INSERT INTO activity_occurrences (activity_id, community_id, local_date, opens_at, closes_at)
SELECT a.id, a.community_id, d::date, d + interval '6 hours', d + interval '9 hours'
FROM activities a, generate_series('2026-03-01'::timestamptz, '2026-03-04', interval '1 day') d;
INSERT INTO posts (community_id, author_id, kind, text, status, deleted_at)
SELECT c.id, u.id, 'check_in', u.openid || ' ' || n, CASE WHEN u.openid = 'bo' THEN 'rejected' ELSE 'visible' END,
       CASE WHEN n = 2 THEN now() END
FROM communities c, users u, generate_series(1, 4) n
WHERE u.openid = 'ann' OR (u.openid = 'bo' AND n = 1);
INSERT INTO check_ins (occurrence_id, activity_id, community_id, user_id, post_id, points, streak)
SELECT o.id, o.activity_id, o.community_id, p.author_id, p.id, 10, split_part(p.text, ' ', 2)::int
FROM posts p JOIN activity_occurrences o ON o.local_date = '2026-02-28'::date + split_part(p.text, ' ', 2)::int;
"""


async def test_0046_voids_the_check_ins_whose_post_had_gone_and_recounts_their_streaks(empty_database):
    version = next(m.version for m in migrations.discover() if m.name == "check_in_void")
    async with migrated_over(empty_database, version, CHECK_INS_BEFORE_0046) as conn:
        rows = await conn.fetch(
            "SELECT p.text, ci.voided_at IS NULL AS counted, ci.streak FROM check_ins ci "
            "JOIN posts p ON p.id = ci.post_id ORDER BY p.text"
        )
    assert [tuple(r) for r in rows] == [
        ("ann 1", True, 1),
        ("ann 2", False, 2),  # void: its streak is history
        ("ann 3", True, 1),  # the run starts again after the void day
        ("ann 4", True, 2),
        ("bo 1", False, 1),
    ]


# Member rewards as they stood before 0051, named by their basis: a transfer failed (1), returned unconfirmed (2),
# waiting for the member (3) or succeeded (4); a 0-fen share (5) owed for good.
REWARDS_BEFORE_0051 = """
INSERT INTO users (appid, openid) VALUES ('wx-test-app', 'owner');
INSERT INTO communities (owner_id, name, welcome_template) SELECT id, 'Runners', '' FROM users;
INSERT INTO reward_pools (amount_fen, window_from, window_to, status, created_by)
SELECT 50, '2026-01-01', '2026-01-31', 'committed', 'operator' FROM generate_series(1, 5);
INSERT INTO reward_allocations (pool_id, community_id, user_id, amount_fen, basis, status)
SELECT p.id, c.id, c.owner_id, x.fen, x.basis, x.status FROM reward_pools p, communities c,
       (VALUES (50, 1, 'owed'), (40, 2, 'owed'), (30, 3, 'owed'), (20, 4, 'paid'), (0, 5, 'owed'))
       x (fen, basis, status)
WHERE p.id = (SELECT min(id) FROM reward_pools) + x.basis - 1;
INSERT INTO transfers (out_bill_no, payee_user_id, payee_openid, amount_fen, purpose, subject_id, community_id, remark,
                       dedupe_key, status)
SELECT 'TR-' || a.id, a.user_id, 'owner', a.amount_fen, 'reward', a.id, a.community_id, 'reward', 'reward:' || a.id,
       (ARRAY['failed', 'cancelled', 'wait_user_confirm', 'succeeded'])[a.basis::int]
FROM reward_allocations a WHERE a.amount_fen > 0;
UPDATE reward_allocations a SET transfer_id = t.id FROM transfers t WHERE t.subject_id = a.id;
"""


async def test_0051_releases_the_rewards_whose_transfer_ended_unpaid_and_settles_the_empty_ones(empty_database):
    version = next(m.version for m in migrations.discover() if m.name == "reward_transfers")
    async with migrated_over(empty_database, version, REWARDS_BEFORE_0051) as conn:
        rows = await conn.fetch("SELECT basis, status, transfer_id IS NOT NULL AS sent FROM reward_allocations")
    assert sorted(tuple(r) for r in rows) == [
        (1, "owed", False),  # released: the member asks again
        (2, "owed", False),
        (3, "owed", True),  # still open: the member confirms it
        (4, "paid", True),
        (5, "paid", False),  # nothing was owed
    ]


# Days rolled up before 0053: the author's two posts each got a comment and a like from the reader on 2026-03-02
# (Shanghai), one of the posts since removed; the reader's check-in that day. Another day, untouched.
CONTRIBUTIONS_BEFORE_0053 = """
INSERT INTO users (appid, openid) VALUES ('wx-test-app', 'author'), ('wx-test-app', 'reader');
INSERT INTO communities (owner_id, name, welcome_template) SELECT id, 'Runners', '' FROM users WHERE openid = 'author';
INSERT INTO posts (community_id, author_id, text, status)
SELECT c.id, c.owner_id, s.status, s.status FROM communities c, (VALUES ('visible'), ('rejected')) s (status);
INSERT INTO interaction_events (community_id, user_id, kind, post_id, occurred_at)
SELECT p.community_id, u.id, k.kind, p.id, '2026-03-02 10:00+08'
FROM posts p, users u, (VALUES ('comment'), ('like')) k (kind) WHERE u.openid = 'reader';
INSERT INTO rollup_contributions (community_id, day, user_id, comments_received, likes_received, participation)
SELECT c.id, d.day, u.id, d.n, d.n, d.p FROM communities c, users u,
       (VALUES ('2026-03-02'::date, 2, 0), ('2026-03-03'::date, 1, 0)) d (day, n, p) WHERE u.openid = 'author'
UNION ALL
SELECT c.id, '2026-03-02', u.id, 0, 0, 1 FROM communities c, users u WHERE u.openid = 'reader';
"""


async def test_0053_takes_what_removed_posts_received_out_of_the_days_rolled_up(empty_database):
    version = next(m.version for m in migrations.discover() if m.name == "received_on_rejected_posts")
    async with migrated_over(empty_database, version, CONTRIBUTIONS_BEFORE_0053) as conn:
        rows = await conn.fetch(
            "SELECT u.openid, r.day::text, r.comments_received, r.likes_received, r.participation "
            "FROM rollup_contributions r JOIN users u ON u.id = r.user_id ORDER BY 1, 2"
        )
    assert [tuple(r) for r in rows] == [
        ("author", "2026-03-02", 1, 1, 0),  # the visible post's
        ("author", "2026-03-03", 1, 1, 0),
        ("reader", "2026-03-02", 0, 0, 1),
    ]


async def test_0055_gives_the_points_of_refund_items_as_text_and_leaves_the_rest(empty_database):
    rows = """
    INSERT INTO users (appid, openid) VALUES ('wx-test-app', 'ann');
    INSERT INTO inbox_items (user_id, kind, subject_type, subject_id, data)
    SELECT id, x.kind, 'trial', 1, x.data::jsonb FROM users,
           (VALUES ('points_refunded', '{"points": 30, "brandId": "2", "pollId": "3"}'),
                   ('points_refunded', '{"points": "40", "brandId": "2", "pollId": "3"}'),
                   ('reward_paid', '{"amountFen": "100"}')) x (kind, data);
    """
    async with migrated_over(empty_database, 55, rows) as conn:
        data = [json.loads(row["data"]) for row in await conn.fetch("SELECT data::text FROM inbox_items ORDER BY id")]
    assert data == [
        {"points": "30", "brandId": "2", "pollId": "3"},
        {"points": "40", "brandId": "2", "pollId": "3"},
        {"amountFen": "100"},
    ]


async def test_0056_gives_texts_written_before_their_full_width_words(empty_database):
    rows = """
    INSERT INTO users (appid, openid) VALUES ('wx-test-app', 'ann');
    INSERT INTO communities (owner_id, name, welcome_template) SELECT id, 'Runners', '' FROM users;
    INSERT INTO posts (community_id, author_id, text, status)
    SELECT c.id, c.owner_id, t.text, 'visible' FROM communities c, (VALUES ('新款ｉＰｈｏｎｅ１５'), ('跑步')) t (text);
    INSERT INTO comments (community_id, post_id, author_id, text, status)
    SELECT community_id, id, author_id, 'ＯＫ，２点见', 'visible' FROM posts WHERE text = '跑步';
    """
    async with migrated_over(empty_database, 56, rows) as conn:
        posts = await conn.fetch("SELECT text, search_terms::text, updated_at = created_at AS untouched FROM posts")
        comment = await conn.fetchval("SELECT search_terms::text FROM comments")
    assert sorted(tuple(r) for r in posts) == [
        ("新款ｉＰｈｏｎｅ１５", "'iphone15':3 '新款':1 '款':2", True),
        ("跑步", "'步':2 '跑步':1", True),
    ]
    assert comment == "'2':2 'ok':1 '点见':3 '见':4"


async def test_0062_cancels_the_pending_requests_of_active_members_and_no_other(empty_database):
    # Two communities; ann is an active member of the first, bob left it, cat is in neither. Each asked the first
    # (ann also the second, where she is not a member); ann's earlier request to the first was rejected.
    rows = """
    INSERT INTO users (appid, openid) VALUES ('wx-test-app', 'owner'), ('wx-test-app', 'ann'), ('wx-test-app', 'bob'),
                                             ('wx-test-app', 'cat');
    INSERT INTO communities (owner_id, name, welcome_template)
    SELECT id, n, '' FROM users, (VALUES ('first'), ('second')) c (n) WHERE openid = 'owner';
    INSERT INTO memberships (community_id, user_id, status, via, left_at)
    SELECT c.id, u.id, s.status, 'invite', CASE WHEN s.status = 'left' THEN now() END FROM communities c, users u,
           (VALUES ('ann', 'active'), ('bob', 'left')) s (openid, status)
    WHERE c.name = 'first' AND u.openid = s.openid;
    INSERT INTO join_requests (community_id, user_id, status)
    SELECT c.id, u.id, r.status FROM communities c, users u,
           (VALUES ('first', 'ann', 'rejected'), ('first', 'ann', 'pending'), ('first', 'bob', 'pending'),
                   ('first', 'cat', 'pending'), ('second', 'ann', 'pending')) r (community, openid, status)
    WHERE c.name = r.community AND u.openid = r.openid;
    """
    async with migrated_over(empty_database, 62, rows) as conn:
        requests = await conn.fetch(
            "SELECT c.name, u.openid, r.status, r.decided_at IS NOT NULL AS decided FROM join_requests r "
            "JOIN communities c ON c.id = r.community_id JOIN users u ON u.id = r.user_id ORDER BY 1, 2, 3"
        )
    assert [tuple(r) for r in requests] == [
        ("first", "ann", "cancelled", True),  # a member's: settled
        ("first", "ann", "rejected", False),  # decided before: left as it was
        ("first", "bob", "pending", False),  # left the community: an admin still decides
        ("first", "cat", "pending", False),
        ("second", "ann", "pending", False),  # not a member there
    ]


async def test_0063_gives_texts_written_before_their_han_beyond_the_basic_block(empty_database):
    rows = """
    INSERT INTO users (appid, openid) VALUES ('wx-test-app', 'ann');
    INSERT INTO communities (owner_id, name, welcome_template) SELECT id, 'Runners', '' FROM users;
    INSERT INTO posts (community_id, author_id, text, status)
    SELECT c.id, c.owner_id, t.text, 'visible' FROM communities c, (VALUES ('去𠮷野家'), ('跑步')) t (text);
    INSERT INTO comments (community_id, post_id, author_id, text, status)
    SELECT community_id, id, author_id, '〇〇群', 'visible' FROM posts WHERE text = '跑步';
    """
    async with migrated_over(empty_database, 63, rows) as conn:
        posts = await conn.fetch("SELECT text, search_terms::text, updated_at = created_at AS untouched FROM posts")
        comment = await conn.fetchval("SELECT search_terms::text FROM comments")
    assert sorted(tuple(r) for r in posts) == [
        ("去𠮷野家", "'去𠮷':1 '家':4 '野家':3 '𠮷野':2", True),
        ("跑步", "'步':2 '跑步':1", True),
    ]
    assert comment == "'〇〇':1 '〇群':2 '群':3"


@pytest.mark.parametrize(
    ("rolled_up", "kept_from"), [("2024-02-01", datetime(2024, 2, 1, tzinfo=UTC)), ("2024-02-02", None)]
)
async def test_0064_records_from_when_events_are_kept_where_retention_had_dropped_rolled_up_days(
    empty_database, rolled_up, kept_from
):
    # Retention dropped January 2024 before it recorded its drops. A day rolled up up to 1 February (in Asia/Shanghai it
    # starts in January): a rebuild must keep the days before February's. From 2 February on only: every day rebuilt.
    rows = """
    SELECT ensure_interaction_partitions('2024-01-01', 3);
    DROP TABLE interaction_events_202401;
    INSERT INTO rollup_days (community_id, day, peak_concurrent, new_members) VALUES (1, 'DAY', 1, 1);
    """.replace("DAY", rolled_up)
    async with migrated_over(empty_database, 64, rows) as conn:
        mark = await conn.fetchval("SELECT watermark FROM rollup_state WHERE name = 'retention'")
    assert mark == kept_from
