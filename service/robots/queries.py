"""The SQL of robots: keyword rules, cooldowns, the reply log, customer-service messages. $n parameters only."""

from __future__ import annotations

from service.core.apps import app_active

_RULE_COLUMNS = """
id::text AS id, community_id::text AS community_id, keyword, match_mode, reply, enabled, cooldown_seconds,
created_by::text AS created_by, created_at, updated_at"""

INSERT_RULE = f"""
INSERT INTO robot_rules (community_id, keyword, match_mode, reply, enabled, cooldown_seconds, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING {_RULE_COLUMNS}
"""  # noqa: S608

RULES = f"""
SELECT {_RULE_COLUMNS}, id AS sort_id FROM robot_rules
WHERE community_id = $1 AND deleted_at IS NULL AND ($2::bigint IS NULL OR id > $2)
ORDER BY sort_id  -- the number, as the cursor and ENABLED_RULES (a bare `id` is the text column above)
LIMIT $3
"""  # noqa: S608

COUNT_RULES = "SELECT count(*) FROM robot_rules WHERE community_id = $1 AND deleted_at IS NULL"

RULE = f"SELECT {_RULE_COLUMNS} FROM robot_rules WHERE id = $1 AND deleted_at IS NULL"  # noqa: S608

# Locked by its community ($1, read first by RULE_COMMUNITY; $2 the rule): Citus locks a row only on the one
# shard it names.
RULE_COMMUNITY = "SELECT community_id FROM robot_rules WHERE id = $1"
LOCK_RULE = f"""
SELECT {_RULE_COLUMNS} FROM robot_rules WHERE community_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE
"""  # noqa: S608

UPDATE_RULE = f"""
UPDATE robot_rules SET keyword = $2, match_mode = $3, reply = $4, enabled = $5, cooldown_seconds = $6,
       updated_at = now()
WHERE id = $1
RETURNING {_RULE_COLUMNS}
"""  # noqa: S608

DELETE_RULE = "UPDATE robot_rules SET deleted_at = now(), enabled = false WHERE id = $1 AND deleted_at IS NULL"

# The rules a text is matched against, in the order they are tried.
ENABLED_RULES = f"""
SELECT id, keyword, match_mode, reply, cooldown_seconds FROM robot_rules
WHERE community_id = $1 AND enabled AND deleted_at IS NULL AND {app_active("$1", "'robots'")}
ORDER BY id
"""  # noqa: S608

# Takes the rule's cooldown for a member when it has lapsed (or was never taken): a row back means "answer".
# Concurrent writers serialise on the row, and the WHERE is re-checked after the wait, so one of them wins.
# $1 rule, $2 member, $3 cooldown seconds, $4 the rule's community. For Citus too: VALUES naming the community
# (one shard), the key by its name (widened with community_id there), and no now() after DO UPDATE (the inserted
# row's time instead; the interval between two instants is immutable, now() - interval is not).
TAKE_COOLDOWN = """
INSERT INTO robot_cooldowns AS c (rule_id, community_id, member, last_reply_at)
VALUES ($1, $4, $2, now())
ON CONFLICT ON CONSTRAINT robot_cooldowns_pkey DO UPDATE SET last_reply_at = EXCLUDED.last_reply_at
WHERE EXCLUDED.last_reply_at - c.last_reply_at >= make_interval(secs => $3)
RETURNING true
"""

INSERT_FEED_REPLY = """
INSERT INTO robot_replies (rule_id, community_id, channel, user_id, post_id, comment_id, reply_comment_id)
VALUES ($1, $2, 'feed', $3, $4, $5, $6)
"""

INSERT_SERVICE_REPLY = """
INSERT INTO robot_replies (rule_id, community_id, channel, user_id, message_id)
VALUES ($1, $2, 'customer_service', $3, $4)
"""

# --- customer-service messages ---------------------------------------------------------------------------

INSERT_MESSAGE = """
INSERT INTO wechat_messages (msg_key, openid, msg_type, content) VALUES ($1, $2, $3, $4)
ON CONFLICT (msg_key) DO NOTHING
RETURNING id
"""

# A signed query is taken by the first body it comes with ($1 signature, $2 the body's sha256, $3 its timestamp,
# $4 seconds kept past it): a row back means "first"; else SEAL_BODY tells the retry from another body.
TAKE_SEAL = """
INSERT INTO wechat_push_seals (signature, body_sha256, expires_at)
VALUES ($1, $2, to_timestamp($3::bigint) + make_interval(secs => $4))
ON CONFLICT (signature) DO NOTHING
RETURNING true
"""
SEAL_BODY = "SELECT body_sha256 FROM wechat_push_seals WHERE signature = $1"
# Seals whose query is refused as stale by now anyway.
FORGET_SEALS = "DELETE FROM wechat_push_seals WHERE expires_at < now()"

# $2: our appid (an openid is per appid).
LOCK_MESSAGE = """
SELECT m.id, m.openid, m.msg_type, m.content, m.status, m.rule_id, u.id AS user_id
FROM wechat_messages m LEFT JOIN users u ON u.openid = m.openid AND u.appid = $2
WHERE m.id = $1
FOR UPDATE OF m
"""

SET_MESSAGE_RULE = "UPDATE wechat_messages SET rule_id = $2 WHERE id = $1"

# The chosen rule's reply while it still answers ($2 the customer-service community): a send retried after WeChat
# was unavailable finds it deleted, switched off or the robots app off since, and sends nothing.
RULE_REPLY = f"""
SELECT reply, community_id FROM robot_rules
WHERE id = $1 AND community_id = $2 AND enabled AND deleted_at IS NULL AND {app_active("$2", "'robots'")}
"""  # noqa: S608

USER_OPENID = "SELECT openid FROM users WHERE id = $1"

# Serialises rule creation in a community, so the count stays under the maximum. The key's second half is 32 bits:
# the id folded into it (ids go past 2^31; two communities sharing a key only wait for each other).
LOCK_RULES_OF = "SELECT pg_advisory_xact_lock(1919053423, ($1::bigint % 2147483647)::int)"

FINISH_MESSAGE = "UPDATE wechat_messages SET status = $2, handled_at = now() WHERE id = $1 AND status = 'received'"

# A sister community opened from its series' template gets the template's live rules.
COPY_RULES = """
INSERT INTO robot_rules (community_id, keyword, match_mode, reply, enabled, cooldown_seconds, created_by)
SELECT $1, keyword, match_mode, reply, enabled, cooldown_seconds, $3 FROM robot_rules
WHERE community_id = $2 AND deleted_at IS NULL
ORDER BY id
"""

# A brand's default rules ($3 keywords, $4 modes, $5 replies); a keyword the community already answers keeps the
# community's own rule, and the community's limit holds.
ADD_DEFAULT_RULES = """
INSERT INTO robot_rules (community_id, keyword, match_mode, reply, created_by)
SELECT $1, d.keyword, d.mode, d.reply, $2
FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS d(keyword, mode, reply, n)
LEFT JOIN robot_rules r ON r.community_id = $1 AND r.deleted_at IS NULL AND r.keyword = d.keyword
WHERE r.id IS NULL  -- an anti-join: Citus takes no correlated subquery beside a set-returning function
ORDER BY d.n
LIMIT $6  -- the room left (MAX_RULES less COUNT_RULES, under LOCK_RULES_OF): Citus takes no subquery in LIMIT
"""
