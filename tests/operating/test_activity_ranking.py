"""An activity's ranking pages like every list, so every member of a large community can find their rank."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from tests.operating.test_activities import check_in_at, community_activity, generate_at
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
