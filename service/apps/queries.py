"""The SQL of community apps: $n parameters only."""

from __future__ import annotations

from service.core.access import role_of

PRICES = "SELECT app, billing, price_fen FROM app_prices"

SET_PRICE = """
INSERT INTO app_prices (app, billing, price_fen) VALUES ($1, $2, $3)
ON CONFLICT (app) DO UPDATE
SET billing = excluded.billing, price_fen = excluded.price_fen, updated_at = excluded.updated_at
"""

CLEAR_PRICE = "DELETE FROM app_prices WHERE app = $1"

SWITCH = """
INSERT INTO community_apps (community_id, app, enabled, changed_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (community_id, app) DO UPDATE SET enabled = excluded.enabled, changed_by = excluded.changed_by,
       changed_at = excluded.changed_at
RETURNING id
"""

# $1 the community (read first by COMMUNITY_OF_APP), $2 the community app: a row lock Citus takes on the
# community's shard (it takes none by id).
COMMUNITY_OF_APP = "SELECT community_id FROM community_apps WHERE id = $1"
LOCK_COMMUNITY_APP = "SELECT * FROM community_apps WHERE community_id = $1 AND id = $2 FOR UPDATE"

PURCHASE = "SELECT billing, price_fen FROM app_purchases WHERE order_id = $1"

# Does the payer ($2) stand as the community's ($1) owner now: only the owner buys apps (NULL: no community).
PAYER_IS_OWNER = f"SELECT {role_of('$1', '$2')} = 'owner'"  # noqa: S608

# What the order buys: what the answer it comes with quotes. An open order is answered again while its amount
# stands, so a reprice at the same amount (one-off <-> monthly) changes what it buys, until it is applied.
RECORD_PURCHASE = """
INSERT INTO app_purchases (order_id, community_app_id, community_id, billing, price_fen)
SELECT $1, a.id, a.community_id, $3, $4 FROM community_apps a WHERE a.id = $2
ON CONFLICT ON CONSTRAINT app_purchases_pkey DO UPDATE SET billing = EXCLUDED.billing
WHERE app_purchases.applied_at IS NULL
"""

APPLY_PURCHASE = """
INSERT INTO app_purchases (order_id, community_app_id, community_id, billing, price_fen, applied_at)
SELECT $1, a.id, a.community_id, $3, $4, now() FROM community_apps a WHERE a.id = $2
ON CONFLICT ON CONSTRAINT app_purchases_pkey DO UPDATE SET applied_at = EXCLUDED.applied_at
"""

# A paid app is switched on by its payment (the owner asked for it by paying).
GRANT_ONE_OFF = "UPDATE community_apps SET purchased = true, enabled = true, changed_at = now() WHERE id = $1"

# A month more, from the end of the paid period or from now when it already ended (or never began: greatest
# ignores NULL). $3 is the locked row's paid_until: Citus computes no time arithmetic on a column in an UPDATE,
# so the row's value comes as a parameter.
GRANT_MONTH = """
UPDATE community_apps
SET paid_until = greatest($3::timestamptz, now()) + interval '1 month', enabled = true, changed_at = now()
WHERE community_id = $1 AND id = $2
"""

REVOKE_ONE_OFF = "UPDATE community_apps SET purchased = false, changed_at = now() WHERE id = $1"

# $3 is the locked row's paid_until (as above).
REVOKE_MONTH = """
UPDATE community_apps SET paid_until = $3::timestamptz - interval '1 month', changed_at = now()
WHERE community_id = $1 AND id = $2 AND paid_until IS NOT NULL
"""

# Claimed once per paid period (reminded_for = paid_until) before sending: a reminder is never sent twice. The
# due rows are found across communities without a lock, then each claimed on its community's shard (skipped if
# another worker holds it; $3 the paid_until found, claimed only if it is still the row's).
DUE_EXPIRY_REMINDERS = """
SELECT x.community_id, x.id, x.paid_until FROM community_apps x
WHERE x.enabled AND NOT x.purchased AND x.paid_until > now()
  AND x.paid_until <= now() + make_interval(secs => $1)
  AND x.reminded_for IS DISTINCT FROM x.paid_until
  AND EXISTS (SELECT 1 FROM app_prices p WHERE p.app = x.app)
ORDER BY x.paid_until
LIMIT $2
"""

CLAIM_EXPIRY_REMINDER = """
UPDATE community_apps ca SET reminded_for = $3, reminder_result = 'sending'
FROM (
    SELECT x.id FROM community_apps x
    WHERE x.community_id = $1 AND x.id = $2 AND x.paid_until = $3 AND x.enabled AND NOT x.purchased
      AND x.reminded_for IS DISTINCT FROM x.paid_until
    FOR UPDATE SKIP LOCKED
) due
WHERE ca.community_id = $1 AND ca.id = due.id
RETURNING ca.id, ca.community_id, ca.app, ca.paid_until
"""

OWNER_CONTACT = """
SELECT u.id AS owner_id, u.openid, c.name AS community_name, c.timezone
FROM communities c JOIN users u ON u.id = c.owner_id WHERE c.id = $1
"""

SET_REMINDER_RESULT = "UPDATE community_apps SET reminder_result = $2 WHERE id = $1"

BILLING_OF = "SELECT billing FROM app_prices WHERE app = $1"
