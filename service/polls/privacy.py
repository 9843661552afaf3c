"""The polls' part of account erasure and export (core/privacy.py): votes, proposals and participations stay as
counts and results under the tombstone's id; a free trial loses its delivery and shipping notes (an address), and one
claimed but not shipped yet ends as `void` (reason `account_erased`: nobody to ship to any more);
trial feedback stays readable, like posts, without its photos; spends of check-in points and their refunds stay (a
ledger: member id, brand, poll, points, no name nor address). The export lists the spends, each with its refund."""

from __future__ import annotations

import asyncpg

from service.core.privacy import Erasure, Privacy
from service.polls.common import audit

ERASED = "account_erased"

# Before the notes go: a claimed trial waits for an admin to ship it to the address in its note. The trial's row lock
# orders it with a shipment in flight: shipped first, it stays shipped; voided first, the shipment answers trial_void.
_VOID_CLAIMED = """
UPDATE trial_qualifications SET status = 'void', voided_at = now(), void_reason = $2
WHERE user_id = $1 AND status = 'claimed'
RETURNING id, poll_id
"""
_UNNOTE_TRIALS = """
UPDATE trial_qualifications SET delivery_note = NULL, shipping_note = NULL
WHERE user_id = $1 AND (delivery_note IS NOT NULL OR shipping_note IS NOT NULL)
"""
_UNPICTURE_FEEDBACK = "UPDATE trial_feedback SET image_ids = '{}', image_urls = '{}' WHERE user_id = $1"

_VOTES = """
SELECT v.id::text AS id, v.poll_id::text AS poll_id, v.proposal_id::text AS proposal_id, p.name AS proposal_name,
       v.status, v.created_at
FROM poll_votes v JOIN poll_proposals p ON p.id = v.proposal_id AND p.community_id = v.community_id
WHERE v.user_id = $1 ORDER BY v.id
"""

_PROPOSALS = """
SELECT id::text AS id, poll_id::text AS poll_id, name, status, created_at
FROM poll_proposals p WHERE proposer_id = $1 ORDER BY p.id  -- the number (a bare `id` is the text column above)
"""

_TRIALS = """
SELECT q.id::text AS id, q.poll_id::text AS poll_id, q.reason, q.status, q.granted_at, q.delivery_note, q.shipped_at,
       f.text AS feedback
FROM trial_qualifications q LEFT JOIN trial_feedback f ON f.qualification_id = q.id AND f.community_id = q.community_id
WHERE q.user_id = $1 ORDER BY q.id
"""

_POINT_SPENDS = """
SELECT s.id::text AS id, s.brand_id::text AS brand_id, s.community_id::text AS community_id,
       s.poll_id::text AS poll_id, s.qualification_id::text AS trial_id, s.points, s.created_at,
       r.created_at AS refunded_at, r.reason AS refund_reason
FROM point_spends s LEFT JOIN point_refunds r ON r.spend_id = s.id AND r.community_id = s.community_id
WHERE s.user_id = $1 ORDER BY s.id
"""


async def erase(conn: asyncpg.Connection, erasure: Erasure) -> None:
    for trial in await conn.fetch(_VOID_CLAIMED, erasure.user_id, ERASED):
        details = {"reason": ERASED, "trialId": str(trial["id"])}
        await audit(conn, trial["poll_id"], None, "trial.voided", subject_id=erasure.user_id, details=details)
    await conn.execute(_UNNOTE_TRIALS, erasure.user_id)
    await conn.execute(_UNPICTURE_FEEDBACK, erasure.user_id)


PRIVACY = Privacy(
    erase=erase,
    exports={"votes": _VOTES, "proposals": _PROPOSALS, "trials": _TRIALS, "point_spends": _POINT_SPENDS},
    erases=("trial_qualifications", "trial_feedback"),
    keeps=("polls", "poll_votes", "poll_proposals", "poll_participants", "poll_audit", "point_spends", "point_refunds"),
)
