"""An activity's ranking pages like every list, so every member of a large community can find their rank; the robot's
announcements reach every community, however many windows are open where the app is off."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, time, timedelta

from service.activities import occurrences
from tests.operating.test_activities import check_in_at, community_activity, create_activity, generate_at
from tests.world import assert_problem


async def test_the_ranking_pages_through_every_member_once_ties_in_user_id_order(world):
    # Found in review: the ranking answered at most `limit` (100) members with no next page, while a community holds
    # up to 500, so a member ranked past 100 could never read their rank (as the leaderboard could not before).
    alice, bob, carol, dave, erin = [await world.member(name) for name in ("alice", "bob", "carol", "dave", "erin")]
    activity = await community_activity(world, alice, bob, "UTC", time(8), time(20), date(2025, 3, 1))
    aid = int(activity["id"])
    cid = activity["communityId"]
    for member in (carol, dave, erin):
        joined = await world.api.post(f"/v1/communities/{cid}/join", headers=member.headers)
        assert joined.status_code == 201, joined.text
    days = await generate_at(world, aid, datetime(2025, 3, 1, tzinfo=UTC), days=3)
    for member, on in ((bob, (0, 1, 2)), (carol, (0, 1)), (erin, (2,)), (dave, (2,))):
        for n in on:
            await check_in_at(world, aid, member.id, days[n]["opens_at"] + timedelta(hours=1))
    # Dave and Erin tie on everything: they share rank 3, the lower user id first.
    tied = sorted((dave.id, erin.id))
    expected = [(1, bob.id), (2, carol.id), (3, tied[0]), (3, tied[1])]

    url = f"/v1/activities/{aid}/ranking"
    for limit in (1, 2, 3, 100):
        seen, cursor = [], None
        for _ in range(5):
            params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            page = await world.api.get(url, params=params, headers=bob.headers)
            assert page.status_code == 200, page.text
            body = page.json()
            assert len(body["items"]) <= limit
            seen += [(item["rank"], int(item["userId"])) for item in body["items"]]
            cursor = body["nextCursor"]
            if cursor is None:
                break
        assert seen == expected, limit
    forged = await world.api.get(url, params={"cursor": "bm90IGEgY3Vyc29y"}, headers=bob.headers)
    assert_problem(forged, 400, "validation_failed")


async def test_windows_open_where_the_app_is_off_do_not_hold_back_announcements_elsewhere(world):
    # Found in review: the announcer took the 200 oldest unannounced windows that had opened and skipped those of
    # communities where the app is off, leaving them unannounced until they close. With 200 such windows open (the
    # occurrences made ahead before an app was switched off or its paid month ran out), every newer window of every
    # other community waited behind them, and one that closed meanwhile was marked without ever being announced.
    alice, bob = await world.member("alice"), await world.member("bob")
    paused = await world.community(alice)
    aid = int((await create_activity(world, alice, paused))["id"])
    await world.pool.execute(
        "INSERT INTO activities (community_id, created_by, title, prompt, recurrence, starts_on, window_start,"
        " window_end) SELECT community_id, created_by, title, prompt, recurrence, starts_on, window_start, window_end"
        " FROM activities, generate_series(1, $2) WHERE id = $1",
        aid,
        occurrences.ANNOUNCE_BATCH,
    )
    await world.pool.execute(
        "INSERT INTO activity_occurrences (activity_id, community_id, local_date, opens_at, closes_at)"
        " SELECT id, community_id, current_date + 100, now() - interval '2 hours', now() + interval '3 hours'"
        " FROM activities WHERE community_id = $1 AND id <> $2",
        int(paused),
        aid,
    )
    switched_off = await world.api.delete(f"/v1/communities/{paused}/apps/activities", headers=alice.headers)
    assert switched_off.status_code == 204, switched_off.text

    lively = await world.community(bob)
    other = int((await create_activity(world, bob, lively))["id"])
    opened = await world.pool.fetchval(
        "INSERT INTO activity_occurrences (activity_id, community_id, local_date, opens_at, closes_at)"
        " VALUES ($1, $2, current_date + 100, now() - interval '1 minute', now() + interval '1 hour') RETURNING id",
        other,
        int(lively),
    )
    await world.run_job("activities.announce")
    announced = await world.pool.fetchrow("SELECT post_id FROM activity_occurrences WHERE id = $1", opened)
    assert announced["post_id"] is not None
    # The paused community's windows are still waiting, unannounced, for the app to come back on before they close.
    waiting = await world.pool.fetchval(
        "SELECT count(*) FROM activity_occurrences WHERE community_id = $1 AND announced_at IS NULL"
        " AND opens_at <= now() AND closes_at > now()",
        int(paused),
    )
    assert waiting == occurrences.ANNOUNCE_BATCH


async def test_a_forged_ranking_cursor_with_numbers_past_int4_answers_400_not_500(world):
    # Found in review: the cursor's numbers are checked against bigint's range, but the ranking compared them as int
    # (-$5::int ...): a cursor of well-formed JSON with a count past 2^31 (or -2^31, whose negation overflows) reached
    # PostgreSQL and failed there, a 500 for the client's bad input.
    alice, bob = await world.member("alice"), await world.member("bob")
    activity = await community_activity(world, alice, bob, "UTC", time(8), time(20), date(2025, 3, 1))
    url = f"/v1/activities/{activity['id']}/ranking"
    for key in ([3_000_000_000, 1, 1, 1], [-(2**31), 1, 1, 1], [1, 2**40, 1, 1], [1, 1, -(2**31), 1]):
        cursor = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
        page = await world.api.get(url, params={"cursor": cursor}, headers=bob.headers)
        assert page.status_code in (200, 400), (key, page.status_code, page.text)
