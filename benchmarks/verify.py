"""After a soak or fault run: is everything the service acknowledged in the database, and do the books add up?

`settle` waits for what is still in flight to finish (WeChat Pay's resent notifications, refunds of refused
payments); `verify` then checks every acknowledged write and the invariants, one `Check` each.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg

from benchmarks.load import Acks, Load
from service.core.money import ledger_violations


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


UNAPPLIED_PAYMENTS = "SELECT count(*) FROM orders WHERE id = ANY($1::bigint[]) AND paid_fen = 0"
REFUNDS_IN_FLIGHT = "SELECT count(*) FROM refunds WHERE status NOT IN ('succeeded', 'closed', 'failed')"


async def settle(conn: asyncpg.Connection, load: Load, timeout: float = 60.0) -> Check:
    """Once the virtual users stopped: wait until every payment made at WeChat is applied and no refund is in
    flight. WeChat Pay's resends go on meanwhile, until the API acknowledges every notification."""
    started = time.monotonic()
    resends = asyncio.create_task(load.resend_notifications(asyncio.Event()))
    try:
        while (waited := time.monotonic() - started) < timeout:
            unapplied = await conn.fetchval(UNAPPLIED_PAYMENTS, list(load.acks.payments))
            in_flight = await conn.fetchval(REFUNDS_IN_FLIGHT)
            if unapplied == 0 and in_flight == 0:
                return Check("settled: payments applied, refunds finished", True, f"in {waited:.1f} s")
            await asyncio.sleep(0.5)
    finally:
        resends.cancel()
    detail = f"after {timeout:.0f} s: {unapplied} payments not applied, {in_flight} refunds in flight"
    return Check("settled: payments applied, refunds finished", False, detail)


def _missing(name: str, acked: set, found: set) -> Check:
    lost = acked - found
    return Check(
        name, not lost, f"{len(acked)} acknowledged, {len(lost)} missing" + (f": {sorted(lost)[:5]}" if lost else "")
    )


async def verify(conn: asyncpg.Connection, acks: Acks) -> list[Check]:
    checks = []
    rows = await conn.fetch(
        "SELECT id FROM posts WHERE id = ANY($1::bigint[]) AND deleted_at IS NULL", list(acks.posts)
    )
    checks.append(_missing("acknowledged posts stored", set(acks.posts), {r["id"] for r in rows}))
    rows = await conn.fetch(
        "SELECT community_id, user_id FROM memberships WHERE status = 'active' AND (community_id, user_id) IN "
        "(SELECT * FROM unnest($1::bigint[], $2::bigint[]))",
        [c for c, _ in acks.joins],
        [u for _, u in acks.joins],
    )
    checks.append(_missing("acknowledged joins stored", acks.joins, {(r[0], r[1]) for r in rows}))
    rows = await conn.fetch("SELECT id FROM communities WHERE id = ANY($1::bigint[])", list(acks.communities))
    checks.append(_missing("acknowledged communities stored", acks.communities, {r["id"] for r in rows}))
    rows = await conn.fetch("SELECT id FROM orders WHERE id = ANY($1::bigint[])", list(acks.orders))
    checks.append(_missing("acknowledged orders stored", set(acks.orders), {r["id"] for r in rows}))
    rows = await conn.fetch(
        "SELECT user_id, client_event_id FROM interaction_events WHERE client_event_id = ANY($1::text[])",
        [e for _, e in acks.events],
    )
    checks.append(_missing("acknowledged events stored", acks.events, {(r[0], r[1]) for r in rows}))
    rows = await conn.fetch("SELECT id FROM presence_sessions WHERE id = ANY($1::bigint[])", list(acks.sessions))
    checks.append(_missing("acknowledged heartbeats stored", acks.sessions, {r["id"] for r in rows}))

    # Every payment WeChat took is applied once, with WeChat's transaction; its payer got in or was refunded.
    rows = await conn.fetch(
        "SELECT o.id, o.transaction_id, o.paid_fen, o.refunded_fen, o.payer_user_id, o.subject_id, m.status, m.via, "
        "       (SELECT string_agg(r.reason, '; ') FROM refunds r WHERE r.order_id = o.id) AS reasons "
        "FROM orders o LEFT JOIN memberships m ON m.community_id = o.subject_id AND m.user_id = o.payer_user_id "
        "WHERE o.id = ANY($1::bigint[])",
        list(acks.payments),
    )
    applied = {r["id"] for r in rows if r["transaction_id"] == acks.payments[r["id"]].transaction_id}
    checks.append(_missing("payments taken by WeChat applied", set(acks.payments), applied))
    admitted = sum(1 for r in rows if r["status"] == "active" and r["refunded_fen"] == 0)
    refused = [r for r in rows if r["refunded_fen"] == r["paid_fen"] > 0]
    stray = [
        r["id"]
        for r in rows
        if not (r["status"] == "active" and r["refunded_fen"] == 0)
        and not (r in refused and (r["reasons"] or "").startswith(("community_full", "already_member")))
    ]
    checks.append(
        Check(
            "every payer admitted or refunded",
            not stray,
            f"{admitted} admitted, {len(refused)} refunded in full" + (f", neither: {stray[:5]}" if stray else ""),
        )
    )

    violations = await ledger_violations(conn)
    checks.append(
        Check("ledger balanced (paid = refunded + retained)", not violations, f"{len(violations)} violations")
    )
    twice = await conn.fetch(
        "SELECT order_id FROM ledger_entries WHERE kind = 'payment' GROUP BY order_id HAVING count(*) > 1"
    )
    charged = await conn.fetch(
        "SELECT payer_user_id, subject_id FROM orders WHERE purpose = 'community_entry' AND paid_fen > refunded_fen "
        "GROUP BY 1, 2 HAVING count(*) > 1"
    )
    checks.append(
        Check(
            "no order paid twice, no member charged twice",
            not twice and not charged,
            f"{len(twice)} orders with two payments, {len(charged)} members charged twice for one community",
        )
    )
    admitted_twice = await conn.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM community_audit_log WHERE action = 'member.joined' "
        "GROUP BY community_id, subject_id HAVING count(*) > 1) twice"
    )
    counts_off = await conn.fetchval(
        "SELECT count(*) FROM communities c WHERE member_count <> "
        "(SELECT count(*) FROM memberships m WHERE m.community_id = c.id AND m.status = 'active')"
    )
    checks.append(
        Check(
            "no member admitted twice, member counts right",
            admitted_twice == 0 and counts_off == 0,
            f"{admitted_twice} admitted twice, {counts_off} communities with a wrong member_count",
        )
    )
    jobs = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'failed') AS failed, "
        "       count(*) FILTER (WHERE status = 'running' AND locked_until < now() - interval '30 seconds') AS stuck, "
        "       count(*) FILTER (WHERE status = 'done') AS done FROM jobs"
    )
    checks.append(
        Check(
            "jobs: none failed, none stuck",
            jobs["failed"] == 0 and jobs["stuck"] == 0,
            f"{jobs['done']} done, {jobs['failed']} failed, {jobs['stuck']} stuck past their lease",
        )
    )
    return checks
