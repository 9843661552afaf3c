"""Client event ingestion and presence heartbeats over HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone

import msgspec
import pytest

from tests.scenario import Factory
from tests.support import api_client, make_settings


@pytest.fixture
async def world(database_url, settings):
    f = await Factory.connect(database_url, settings)
    try:
        owner, member, stranger = [await f.user(n) for n in ("owner", "member", "stranger")]
        c1 = await f.community("One", owner=owner)
        c2 = await f.community("Two", owner=stranger)
        await f.join(c1, member, at=datetime.now(UTC))
        post = await f.post(c1, owner, "A post worth reading", at=datetime.now(UTC))
        other_post = await f.post(c2, stranger, "Elsewhere", at=datetime.now(UTC))
        deleted = await f.post(c1, owner, "Gone", at=datetime.now(UTC), deleted=True)
        return {
            "c1": c1,
            "c2": c2,
            "post": post,
            "other_post": other_post,
            "deleted": deleted,
            "member": {"authorization": f"Bearer {f.token(member)}"},
            "member_id": member,
        }
    finally:
        await f.close()


def event(n, community, post=None, *, at=None, type_="post_view", dwell=4000, page=None):
    body = {
        "id": f"e{n}",
        "type": type_,
        "communityId": str(community),
        "at": (at or datetime.now(UTC)).isoformat(),
        "dwellMs": dwell,
    }
    if post is not None:
        body["postId"] = str(post)
    if page is not None:
        body["page"] = page
    return body


async def count_events(database_url) -> int:
    from service.db.pool import connect

    conn = await connect(database_url)
    try:
        return await conn.fetchval("SELECT count(*) FROM interaction_events WHERE kind IN ('post_view', 'page_view')")
    finally:
        await conn.close()


async def client_events(database_url) -> list[tuple]:
    """The stored events clients sent: every column the request decides, by event id."""
    from service.db.pool import connect

    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT community_id, user_id, kind, post_id, target, dwell_ms, client_event_id, occurred_at "
            "FROM interaction_events WHERE client_event_id IS NOT NULL ORDER BY client_event_id"
        )
    finally:
        await conn.close()
    return [tuple(r) for r in rows]


async def test_a_retried_batch_counts_once(client, world, database_url):
    batch = {
        "events": [event(1, world["c1"], world["post"]), event(2, world["c1"], page="/pages/home", type_="page_view")]
    }
    first = await client.post("/v1/events", json=batch, headers=world["member"])
    again = await client.post("/v1/events", json=batch, headers=world["member"])
    assert first.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert again.json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert await count_events(database_url) == 2


async def test_events_are_stored_as_sent_and_a_time_without_offset_is_utc(client, world, database_url):
    at = datetime.now(UTC).replace(microsecond=123000) - timedelta(minutes=5)
    naive = event(2, world["c1"], page="pages/首页?来源=分享", type_="page_view", dwell=None)
    naive["at"] = at.replace(tzinfo=None).isoformat()
    del naive["dwellMs"]
    batch = {"events": [event(1, world["c1"], world["post"], at=at), naive]}
    response = await client.post("/v1/events", json=batch, headers=world["member"])
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    rows = await client_events(database_url)
    assert rows == [
        (world["c1"], world["member_id"], "post_view", world["post"], f"post:{world['post']}", 4000, "e1", at),
        (world["c1"], world["member_id"], "page_view", None, "page:pages/首页?来源=分享", None, "e2", at),
    ]


async def test_a_batch_passed_whole_is_stored_as_sent(client, world, database_url):
    """Such a batch comes to the writer with its rows encoded for the COPY by the request (event_copy.py): every
    column as sent, microseconds and other offsets included."""
    china = timezone(timedelta(hours=8))
    at = datetime.now(china).replace(microsecond=654321) - timedelta(minutes=3)
    later = at + timedelta(microseconds=1)
    share = event(2, world["c1"], world["post"], type_="share_open", at=later, dwell=None)
    del share["dwellMs"]
    batch = {"events": [event(1, world["c1"], world["post"], at=at, dwell=86_400_000), share]}
    response = await client.post("/v1/events", json=batch, headers=world["member"])
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    rows = await client_events(database_url)
    target = f"post:{world['post']}"
    assert rows == [
        (world["c1"], world["member_id"], "post_view", world["post"], target, 86_400_000, "e1", at),
        (world["c1"], world["member_id"], "share_open", world["post"], target, None, "e2", later),
    ]


async def test_bad_events_are_rejected_one_by_one_and_the_rest_kept(client, world, database_url):
    now = datetime.now(UTC)
    batch = {
        "events": [
            event(1, world["c1"], world["post"]),  # fine
            event(2, world["c2"], world["other_post"]),  # not my community
            event(3, world["c1"], world["other_post"]),  # post of another community
            event(4, world["c1"], world["deleted"]),  # deleted post
            event(5, world["c1"], world["post"], at=now + timedelta(hours=1)),  # future
            event(6, world["c1"], world["post"], at=now - timedelta(days=30)),  # too old
            event(7, world["c1"]),  # post_view without post
            event(1, world["c1"], world["post"], at=now + timedelta(seconds=1)),  # same id, other time: fine
        ]
    }
    batch["events"].append(dict(batch["events"][0]))  # exact duplicate inside the batch
    response = await client.post("/v1/events", json=batch, headers=world["member"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (1, "unknown_community"),
        (2, "unknown_post"),
        (3, "unknown_post"),
        (4, "in_future"),
        (5, "too_old"),
        (6, "post_required"),
        (8, "duplicate_in_batch"),
    ]
    assert await count_events(database_url) == 2


async def test_batch_limits_and_validation(client, world, settings):
    too_many = {"events": [event(n, world["c1"], world["post"]) for n in range(settings.event_batch_max + 1)]}
    response = await client.post("/v1/events", json=too_many, headers=world["member"])
    assert response.status_code == 413 and response.json()["code"] == "batch_too_large"
    unknown_type = {"events": [{**event(1, world["c1"], world["post"]), "type": "teleport"}]}
    response = await client.post("/v1/events", json=unknown_type, headers=world["member"])
    assert response.status_code == 400 and response.json()["code"] == "validation_failed"
    response = await client.post("/v1/events", json={"events": [event(1, world["c1"], world["post"])]})
    assert response.status_code == 401


async def test_heartbeats_make_sessions_and_a_gap_ends_one(database_url, world):
    settings = make_settings(database_url, presence_gap_seconds=1)
    async with api_client(settings) as client:
        beat = {"communityId": str(world["c1"])}
        first = (await client.post("/v1/presence/heartbeat", json=beat, headers=world["member"])).json()
        await asyncio.sleep(0.3)
        second = (await client.post("/v1/presence/heartbeat", json=beat, headers=world["member"])).json()
        assert second["sessionId"] == first["sessionId"] and second["seconds"] > 0.25
        await asyncio.sleep(1.3)
        third = (await client.post("/v1/presence/heartbeat", json=beat, headers=world["member"])).json()
        assert third["sessionId"] != first["sessionId"] and third["seconds"] == 0

    # Concurrent heartbeats of one member extend one session, never open two (a gap of a minute: ten requests
    # on a loaded machine may take longer than the second above).
    async with api_client(make_settings(database_url, presence_gap_seconds=60)) as client:
        results = await asyncio.gather(
            *(client.post("/v1/presence/heartbeat", json=beat, headers=world["member"]) for _ in range(10))
        )
        assert {r.json()["sessionId"] for r in results} == {third["sessionId"]}

        stranger = await client.post(
            "/v1/presence/heartbeat", json={"communityId": str(world["c2"])}, headers=world["member"]
        )
        assert stranger.status_code == 403 and stranger.json()["code"] == "not_member"


async def test_partitions_past_retention_are_dropped(database_url, settings):
    from service.db.pool import connect
    from service.interactions.logic import drop_expired_partitions

    conn = await connect(database_url)
    try:
        await conn.execute("SELECT ensure_interaction_partitions('2024-01-01', 3)")
        dropped = await drop_expired_partitions(conn, settings, datetime(2025, 3, 15, tzinfo=UTC))
        # 13 months of retention before March 2025 keeps February 2024 onwards.
        assert dropped == ["interaction_events_202401"]
        names = [
            r["relname"]
            for r in await conn.fetch(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'interaction_events'::regclass"
            )
        ]
        assert "interaction_events_202402" in names and "interaction_events_default" in names
    finally:
        await conn.close()


async def test_a_rebuild_after_retention_keeps_the_metrics_of_days_whose_events_were_dropped(database_url, settings):
    from zoneinfo import ZoneInfo

    from service.interactions import logic

    zone = ZoneInfo(settings.metrics_timezone)  # Asia/Shanghai: a local day starts at 16:00 UTC the day before
    f = await Factory.connect(database_url, settings)
    conn = f.conn
    try:
        await conn.execute("SELECT ensure_interaction_partitions('2024-01-01', 3)")
        owner, member = await f.user("owner"), await f.user("member")
        community = await f.community("Old", owner=owner)
        # 10 January (its month goes), 1 February at 03:00 (still January in UTC: that part of the day goes, the
        # rest stays) and at noon, and 10 February (kept).
        times = [
            datetime(2024, m, d, hh, tzinfo=zone) for m, d, hh in ((1, 10, 12), (2, 1, 3), (2, 1, 12), (2, 10, 12))
        ]
        await f.join(community, member, at=times[0])
        post = await f.post(community, owner, "A post worth reading", at=times[0])
        for at in times:
            await f.like(post, member, at=at)
            await f.comment(post, member, "Nice one, thanks", at=at)
            await f.session(community, member, at, at + timedelta(minutes=10))
            await conn.execute(
                "INSERT INTO interaction_events (community_id, user_id, kind, post_id, target, dwell_ms, occurred_at) "
                "VALUES ($1, $2, 'post_view', $3, 'post:' || $3::bigint, 5000, $4)",
                community,
                member,
                post,
                at,
            )
        await logic.rollup_incremental(conn, settings)

        async def figures():
            start, end = date(2024, 1, 1), date(2024, 2, 29)
            periods, total, _ = await logic.compute_metrics(conn, settings, community, start, end, "day")
            return periods, total

        before = await figures()
        by_day = dict(before[0])
        assert by_day[date(2024, 1, 10)].page_views == 1
        assert by_day[date(2024, 1, 10)].new_members == 1
        assert by_day[date(2024, 2, 1)].page_views == 2

        # The retention job drops January; 10 February's roll-ups are lost (say, by a restore); a rebuild is run.
        dropped = await logic.drop_expired_partitions(conn, settings, datetime(2025, 3, 15, tzinfo=UTC))
        assert dropped == ["interaction_events_202401"]
        for table in ("rollup_views", "rollup_presence", "rollup_contributions", "rollup_days"):
            await conn.execute(f"DELETE FROM {table} WHERE day = '2024-02-10'")  # noqa: S608
        days = await logic.rebuild(conn, settings)
        # January and 1 February keep what was rolled up from events no longer stored; 10 February is back.
        assert await figures() == before
        assert days == 1  # 10 February, the only day whose events are all stored
    finally:
        await f.close()


async def test_joins_and_departures_are_recorded_with_the_membership_change(client, settings, database_url):
    from service.db.pool import connect
    from tests.factories import create_community, create_users, join

    owner, member = await create_users(database_url, settings, "owner", "member")
    community = await create_community(client, owner)
    await join(client, member, community["id"])
    left = await client.delete(f"/v1/communities/{community['id']}/members/me", headers=member.headers)
    assert left.status_code in (200, 204), left.text
    conn = await connect(database_url)
    try:
        kinds = [
            r["kind"]
            for r in await conn.fetch("SELECT kind FROM interaction_events WHERE user_id = $1 ORDER BY id", member.id)
        ]
    finally:
        await conn.close()
    assert kinds == ["join", "leave"]


@pytest.mark.parametrize(("start", "end"), [("0001-01-01", "0001-02-01"), ("9999-12-01", "9999-12-31")])
async def test_windows_at_the_ends_of_the_calendar_are_400_not_500(client, world, start, end):
    # Found by the contract fuzzer: local midnights of year 1 and 9999 overflow PostgreSQL and datetime.
    params = {"from": start, "to": end}
    response = await client.get(f"/v1/communities/{world['c1']}/leaderboard", params=params, headers=world["member"])
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_failed"
    assert {e["field"] for e in response.json()["errors"]} == {"from", "to"}


async def test_concurrent_batches_with_overlapping_events_each_count_their_own(client, world, database_url):
    """Batches sent at once are written together (service/interactions/ingestion.py): every distinct event is
    accepted by exactly one of them, the others count it as a duplicate, and rejections stay per batch."""
    at = datetime.now(UTC) - timedelta(minutes=1)
    retried = {"events": [event(0, world["c1"], world["post"], at=at)]}
    assert (await client.post("/v1/events", json=retried, headers=world["member"])).json()["accepted"] == 1
    batches = [
        {"events": [event(n, world["c1"], world["post"], at=at) for n in range(k * 5, k * 5 + 10)]} for k in range(8)
    ]  # batch k: events 5k .. 5k+9, so each overlaps the next by five; event 0 is already stored
    batches[3]["events"].insert(2, event(99, world["c2"], world["other_post"], at=at))  # not my community
    answers = await asyncio.gather(
        *(client.post("/v1/events", json=batch, headers=world["member"]) for batch in batches)
    )
    bodies = [answer.json() for answer in answers]
    for batch, body in zip(batches, bodies, strict=True):
        valid = len(batch["events"]) - len(body["rejected"])
        assert body["accepted"] + body["duplicates"] == valid, body
    assert [r["index"] for r in bodies[3]["rejected"]] == [2]
    assert bodies[3]["rejected"][0]["code"] == "unknown_community"
    assert all(body["rejected"] == [] for n, body in enumerate(bodies) if n != 3)
    assert sum(body["accepted"] for body in bodies) == 44  # events 1 .. 44
    assert await count_events(database_url) == 45
    again = await asyncio.gather(*(client.post("/v1/events", json=b, headers=world["member"]) for b in batches))
    assert [a.json()["accepted"] for a in again] == [0] * 8
    assert await count_events(database_url) == 45


async def test_one_write_answers_each_batch_with_its_own_duplicates(world, database_url, settings):
    """Three batches queued together go out in one write (one pooled connection) and each answer is exact."""
    from service.db.pool import create_pool
    from service.interactions.ingestion import EventWriter, ingest
    from service.interactions.models import EventBatch

    pool = await create_pool(settings)
    acquired = []

    class CountingPool:
        def acquire(self):
            acquired.append(1)
            return pool.acquire()

    def batch(*events):
        return msgspec.convert({"events": list(events)}, EventBatch)

    at = datetime.now(UTC) - timedelta(minutes=1)
    c1, post, member = world["c1"], world["post"], world["member_id"]
    try:
        writer = EventWriter(CountingPool())
        first = await ingest(writer, settings, member, batch(event(0, c1, post, at=at)))
        assert (first.accepted, first.duplicates, len(acquired)) == (1, 0, 1)
        a, b, c = await asyncio.gather(
            ingest(writer, settings, member, batch(*(event(n, c1, post, at=at) for n in (0, 1, 2)))),
            ingest(writer, settings, member, batch(*(event(n, c1, post, at=at) for n in (1, 2, 3)))),
            ingest(
                writer,
                settings,
                member,
                batch(event(3, c1, post, at=at), event(4, world["c2"], world["other_post"], at=at)),
            ),
        )
        assert len(acquired) == 2  # the three batches: one write
        assert (a.accepted, a.duplicates, a.rejected) == (2, 1, [])  # 1 and 2 new, 0 stored before
        assert (b.accepted, b.duplicates, b.rejected) == (1, 2, [])  # 3 new, 1 and 2 sent by the first batch
        assert (c.accepted, c.duplicates) == (0, 1)
        assert [(r.index, r.code) for r in c.rejected] == [(1, "unknown_community")]
        assert await count_events(database_url) == 4
        await writer.close()
    finally:
        await pool.close()


async def test_events_written_meanwhile_by_another_process_are_duplicates(world, database_url):
    """The writer COPYs events it found new; one stored since (by another API process) makes the unique index
    refuse the COPY, and the idempotent INSERT writes the others and names it."""
    from service.db.pool import connect
    from service.interactions.event_copy import encode
    from service.interactions.ingestion import _store

    at = datetime.now(UTC) - timedelta(minutes=1)
    c1, post, member = world["c1"], world["post"], world["member_id"]
    records = [(c1, member, "post_view", post, f"post:{post}", 4000, f"m{n}", at) for n in range(3)]
    conn = await connect(database_url)
    try:
        assert await _store(conn, records[1:2], [encode(records[1:2])]) == []  # the other process
        assert await _store(conn, records, [encode(records)]) == [(member, "m1", at)]
    finally:
        await conn.close()
    assert await count_events(database_url) == 3


async def test_more_concurrent_batches_than_pooled_connections(world, database_url, sandbox):
    """Requests waiting for the event writer hold no pooled connection: with a pool of 2, twelve batches at once
    are all written (the route once took `user`, which holds one, and 16 requests over a pool of 10 hung)."""
    settings = make_settings(database_url, wechat_api_base=sandbox.url, db_pool_max=2)
    at = datetime.now(UTC) - timedelta(minutes=1)
    batches = [{"events": [event(k * 10 + n, world["c1"], world["post"], at=at) for n in range(10)]} for k in range(12)]
    async with api_client(settings) as client:
        answers = await asyncio.wait_for(
            asyncio.gather(*(client.post("/v1/events", json=b, headers=world["member"]) for b in batches)), 60
        )
    assert [a.json()["accepted"] for a in answers] == [10] * 12
    assert await count_events(database_url) == 120
