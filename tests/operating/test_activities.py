"""Theme activities over HTTP and against the database: scheduling, the robot's announcements, check-ins
(content-checked, duplicate, late, early), streaks across local days, rankings, the community's time zone,
and callers without standing on every route."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.activities import checkins, manage, occurrences
from service.activities import queries as q
from service.errors import Problem
from tests.factories import approve_photo, upload_photo
from tests.seed import local_window
from tests.world import assert_problem

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def create_activity(world, owner, cid: str, **fields) -> dict:
    body = {"title": "早起打卡", "prompt": "晒出今天早上的第一张照片", "recurrence": "daily", **local_window()}
    response = await world.api.post(f"/v1/communities/{cid}/activities", json={**body, **fields}, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def check_in(world, member, activity_id: str, text: str = "六点起床，跑了五公里", **extra):
    return await world.api.post(
        f"/v1/activities/{activity_id}/check-ins", json={"text": text, **extra}, headers=member.headers
    )


@pytest.fixture
async def people(world):
    return [await world.member(name) for name in ("alice", "bob", "carol", "dave")]


async def test_an_activity_is_announced_and_members_check_in_once(world, people):
    alice, bob, carol, dave = people
    cid = await world.community(alice, bob, carol)
    activity = await create_activity(world, alice, cid, rewardPoints=10)
    assert activity["timeZone"] == "Asia/Shanghai" and activity["recurrence"] == "daily"
    current = activity["current"]
    assert current is not None and current["postId"] is not None and activity["next"] is not None
    announcement = await world.pool.fetchrow("SELECT * FROM posts WHERE id = $1", int(current["postId"]))
    assert announcement["author_id"] is None and announcement["robot"] == "activities"
    assert announcement["kind"] == "activity" and "早起打卡" in announcement["text"]

    # Image URLs are no longer taken, from any host: the field is refused by name, nothing is recorded.
    refused = await check_in(world, bob, activity["id"], imageUrls=["https://cdn.example.com/run.jpg"])
    [error] = assert_problem(refused, 400, "validation_failed")["errors"]
    assert error["field"] == "imageUrls" and "`imageIds`" in error["message"]

    photo = await upload_photo(world.api, bob, "checkin")
    await approve_photo(world.pool, photo)
    first = await check_in(world, bob, activity["id"], imageIds=[photo])
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["streak"] == 1 and body["points"] == 10 and body["postStatus"] == "visible"
    assert body["occurrenceId"] == current["id"] and body["userId"] == str(bob.id)
    assert [image["id"] for image in body["images"]] == [photo] and body["imageUrls"] == []
    post = await world.pool.fetchrow("SELECT * FROM posts WHERE id = $1", int(body["postId"]))
    assert post["author_id"] == bob.id and post["kind"] == "check_in" and post["image_ids"] == [int(photo)]
    recorded = await world.pool.fetch(
        "SELECT kind, post_id FROM interaction_events WHERE user_id = $1 AND kind = 'check_in'", bob.id
    )
    assert [(r["kind"], r["post_id"]) for r in recorded] == [("check_in", int(body["postId"]))]

    assert_problem(await check_in(world, bob, activity["id"], "再打一次"), 409, "already_checked_in")
    # Concurrent check-ins of one member: exactly one counts, the others leave no post behind.
    racing = await asyncio.gather(*(check_in(world, alice, activity["id"], f"第 {n} 次") for n in range(5)))
    assert sorted(r.status_code for r in racing) == [201, 409, 409, 409, 409]
    assert (
        await world.pool.fetchval("SELECT count(*) FROM posts WHERE author_id = $1 AND kind = 'check_in'", alice.id)
        == 1
    )
    assert_problem(await check_in(world, carol, activity["id"], "这里有 sandbox-risky 内容"), 422, "content_rejected")
    held = await check_in(world, carol, activity["id"], "需要 sandbox-review 的内容")
    assert held.status_code == 201 and held.json()["postStatus"] == "pending"
    assert await world.pool.fetchval("SELECT count(*) FROM check_ins") == 3

    mine = (await world.api.get(f"/v1/activities/{activity['id']}", headers=bob.headers)).json()["me"]
    assert mine == {"checkedInNow": True, "checkIns": 1, "points": 10, "currentStreak": 1, "longestStreak": 1}
    # Carol's held check-in counts, but others see only visible check-ins.
    listed = (await world.api.get(f"/v1/activities/{activity['id']}/check-ins", headers=bob.headers)).json()
    assert [item["userId"] for item in listed["items"]] == [str(alice.id), str(bob.id)]
    own = (await world.api.get(f"/v1/activities/{activity['id']}/check-ins", headers=carol.headers)).json()
    assert {item["userId"] for item in own["items"]} == {str(alice.id), str(bob.id), str(carol.id)}
    # Narrowed to one member, and to one occurrence, by the parameters the spec names.
    bobs = await world.api.get(
        f"/v1/activities/{activity['id']}/check-ins", params={"userId": bob.id}, headers=carol.headers
    )
    assert [item["userId"] for item in bobs.json()["items"]] == [str(bob.id)]
    for occurrence, count in ((current["id"], 3), (activity["next"]["id"], 0)):
        narrowed = await world.api.get(
            f"/v1/activities/{activity['id']}/check-ins", params={"occurrenceId": occurrence}, headers=carol.headers
        )
        assert len(narrowed.json()["items"]) == count
    ranking = (await world.api.get(f"/v1/activities/{activity['id']}/ranking", headers=carol.headers)).json()
    assert [(e["rank"], e["checkIns"], e["points"]) for e in ranking["items"]] == [(1, 1, 10)] * 3


async def test_late_early_and_foreign_occurrences(world, people):
    alice, bob, *_ = people
    cid = await world.community(alice, bob)
    activity = await create_activity(world, alice, cid)
    current_id = int(activity["current"]["id"])
    # Move the open occurrence into yesterday: its window has closed.
    await world.pool.execute(
        "UPDATE activity_occurrences SET opens_at = opens_at - interval '1 day', "
        "closes_at = now() - interval '1 minute' WHERE id = $1",
        current_id,
    )
    late = assert_problem(await check_in(world, bob, activity["id"]), 409, "check_in_late")
    assert "next window opens" in late["detail"]
    assert_problem(await check_in(world, bob, activity["id"], occurrenceId=str(current_id)), 409, "check_in_late")
    upcoming = (await world.api.get(f"/v1/activities/{activity['id']}", headers=bob.headers)).json()["next"]
    assert_problem(await check_in(world, bob, activity["id"], occurrenceId=upcoming["id"]), 409, "check_in_not_open")
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).date().isoformat()
    later = await create_activity(world, alice, cid, startsOn=tomorrow)
    assert later["current"] is None
    assert_problem(await check_in(world, bob, later["id"]), 409, "check_in_not_open")
    other = await create_activity(world, alice, await world.community(alice))
    foreign = other["current"]["id"]
    assert_problem(await check_in(world, bob, activity["id"], occurrenceId=foreign), 404, "not_found")


async def test_schedules_are_validated_as_a_whole(world, people):
    alice, *_ = people
    cid = await world.community(alice)
    url = f"/v1/communities/{cid}/activities"
    base = {"title": "t", "prompt": "p", "windowStart": "07:00", "windowEnd": "09:00"}
    cases = [
        ({"recurrence": "weekly"}, "weekdays"),
        ({"recurrence": "daily", "weekdays": [1]}, "weekdays"),
        ({"recurrence": "dates"}, "dates"),
        ({"recurrence": "daily", "windowEnd": "07:00"}, "windowEnd"),
        ({"recurrence": "daily", "startsOn": "2020-01-01"}, "startsOn"),
        ({"recurrence": "daily", "endsOn": "2020-01-01"}, "endsOn"),
        ({"recurrence": "dates", "dates": ["2020-01-01"]}, "dates"),
        ({"recurrence": "daily", "windowStart": "24:00"}, "windowStart"),
        ({"recurrence": "weekly", "weekdays": [8]}, "weekdays"),
    ]
    for extra, field in cases:
        response = await world.api.post(url, json={**base, **extra}, headers=alice.headers)
        body = assert_problem(response, 400, "validation_failed")
        assert any(field in error["field"] for error in body["errors"]), (extra, body)
    weekly = await world.api.post(
        url, json={**base, "recurrence": "weekly", "weekdays": [5, 1, 1]}, headers=alice.headers
    )
    assert weekly.status_code == 201 and weekly.json()["weekdays"] == [1, 5]


async def community_activity(world, owner, member, zone: str, start: time, end: time, starts_on: date) -> dict:
    """An activity whose occurrences are generated from a chosen moment (not now), for calendar scenarios."""
    cid = await world.community(owner, member)
    await world.pool.execute("UPDATE communities SET timezone = $2 WHERE id = $1", int(cid), zone)
    activity = await create_activity(world, owner, cid)
    activity_id = int(activity["id"])
    await world.pool.execute("DELETE FROM activity_occurrences WHERE activity_id = $1", activity_id)
    await world.pool.execute(
        "UPDATE activities SET starts_on = $2, window_start = $3, window_end = $4, generated_until = NULL "
        "WHERE id = $1",
        activity_id,
        starts_on,
        start,
        end,
    )
    return activity


async def generate_at(world, activity_id: int, now: datetime, days: int) -> list:
    async with world.pool.acquire() as conn:
        row = await conn.fetchrow(q.ACTIVITY, activity_id)
        await occurrences.generate(conn, row, now, days)
        return await conn.fetch(
            "SELECT * FROM activity_occurrences WHERE activity_id = $1 ORDER BY opens_at", activity_id
        )


async def check_in_at(world, activity_id: int, user_id: int, at: datetime):
    """What the route does after the content check, at a chosen instant."""
    async with world.pool.acquire() as conn, conn.transaction():
        activity = await conn.fetchrow(q.ACTIVITY, activity_id)
        occurrence = await checkins._target_occurrence(conn, activity, None, at)
        check_in_id = await checkins.record_check_in(conn, activity, occurrence, user_id, "打卡", "visible", at, [])
        return await conn.fetchrow("SELECT * FROM check_ins WHERE id = $1", check_in_id)


async def standing_at(world, activity_id: int, user_id: int, now: datetime) -> dict:
    async with world.pool.acquire() as conn:
        args = await manage._streak_args(conn, activity_id, now)
        row = await conn.fetchrow(q.STANDINGS, activity_id, *args, user_id)
        return dict(row)


async def test_streaks_follow_local_days_across_utc_midnight(world, people):
    alice, bob, *_ = people
    # Windows 00:00-12:00 in Shanghai are 16:00-04:00 UTC: every check-in at 17:30Z belongs to the next local day.
    shanghai = await community_activity(world, alice, bob, "Asia/Shanghai", time(0), time(12), date(2025, 3, 1))
    sid = int(shanghai["id"])
    occurrences = await generate_at(world, sid, datetime(2025, 2, 28, 16, tzinfo=UTC), days=6)
    assert [o["local_date"] for o in occurrences] == [date(2025, 3, d) for d in range(1, 8)]
    assert occurrences[0]["opens_at"] == datetime(2025, 2, 28, 16, tzinfo=UTC)
    streaks = []
    for day in (28, 1, 2, 4):  # 17:30Z on 28 Feb, 1, 2 and 4 March: local 1, 2, 3 and 5 March; 4 March missed
        at = datetime(2025, 3 if day < 28 else 2, day, 17, 30, tzinfo=UTC)
        streaks.append((await check_in_at(world, sid, bob.id, at))["streak"])
    assert streaks == [1, 2, 3, 1]
    with pytest.raises(Problem) as duplicate:
        await check_in_at(world, sid, bob.id, datetime(2025, 3, 4, 19, tzinfo=UTC))
    assert duplicate.value.code == "already_checked_in"
    # 02:00 on 6 March local: that window is open and not yet missed, so the run of 5 March still counts.
    assert await standing_at(world, sid, bob.id, datetime(2025, 3, 5, 18, tzinfo=UTC)) == {
        "user_id": bob.id,
        "check_ins": 4,
        "points": 0,
        "longest_streak": 3,
        "current_streak": 1,
    }
    # 13:00 on 6 March local: the window closed without a check-in: the streak is broken.
    assert (await standing_at(world, sid, bob.id, datetime(2025, 3, 6, 5, tzinfo=UTC)))["current_streak"] == 0

    # The same schedule and instants in a UTC community: 17:30Z is after the 00:00-12:00 window: late.
    in_utc = await community_activity(world, alice, bob, "UTC", time(0), time(12), date(2025, 3, 1))
    await generate_at(world, int(in_utc["id"]), datetime(2025, 3, 1, tzinfo=UTC), days=3)
    with pytest.raises(Problem) as late:
        await check_in_at(world, int(in_utc["id"]), bob.id, datetime(2025, 3, 1, 17, 30, tzinfo=UTC))
    assert late.value.code == "check_in_late"

    ranking = (await world.api.get(f"/v1/activities/{sid}/ranking", headers=alice.headers)).json()["items"]
    assert [(e["userId"], e["checkIns"], e["longestStreak"], e["currentStreak"]) for e in ranking] == [
        (str(bob.id), 4, 3, 0)
    ]


async def test_streak_across_a_dst_change(world, people):
    alice, bob, *_ = people
    berlin = await community_activity(world, alice, bob, "Europe/Berlin", time(9), time(10), date(2025, 3, 28))
    bid = int(berlin["id"])
    occurrences = await generate_at(world, bid, datetime(2025, 3, 27, 23, tzinfo=UTC), days=4)
    assert [o["opens_at"].hour for o in occurrences] == [8, 8, 7, 7, 7]  # 09:00 CET, then CEST from 30 March
    assert [
        (await check_in_at(world, bid, bob.id, o["opens_at"] + timedelta(minutes=5)))["streak"] for o in occurrences
    ] == [1, 2, 3, 4, 5]


async def test_generation_and_announcements_are_idempotent(world, people):
    alice, *_ = people
    cid = await world.community(alice)
    activity = await create_activity(world, alice, cid)
    aid = int(activity["id"])
    count = await world.pool.fetchval("SELECT count(*) FROM activity_occurrences WHERE activity_id = $1", aid)
    assert count >= world.settings.activities_horizon_days
    await world.pool.execute("UPDATE activities SET generated_until = NULL")
    await world.run_job("activities.generate")
    await world.run_job("activities.generate")
    assert await world.pool.fetchval("SELECT count(*) FROM activity_occurrences WHERE activity_id = $1", aid) == count
    # Days pass (the last five days are not generated yet): the job catches up, once.
    await world.pool.execute(
        "DELETE FROM activity_occurrences WHERE activity_id = $1 AND local_date > current_date + 5", aid
    )
    await world.pool.execute("UPDATE activities SET generated_until = current_date + 5 WHERE id = $1", aid)
    await world.run_job("activities.generate")
    await world.run_job("activities.generate")
    assert await world.pool.fetchval("SELECT count(*) FROM activity_occurrences WHERE activity_id = $1", aid) == count
    # Tomorrow's occurrence opens (moved to now): one announcement, however often the job runs.
    upcoming = await world.pool.fetchval(
        "SELECT id FROM activity_occurrences WHERE activity_id = $1 AND announced_at IS NULL ORDER BY opens_at LIMIT 1",
        aid,
    )
    await world.pool.execute(
        "UPDATE activity_occurrences SET opens_at = now() - interval '1 second' WHERE id = $1", upcoming
    )
    await world.run_job("activities.announce")
    await world.run_job("activities.announce")
    posts = await world.pool.fetchval(
        "SELECT count(*) FROM posts WHERE community_id = $1 AND robot = 'activities'", int(cid)
    )
    assert posts == 2
    # An occurrence that closed before it could be announced is marked, not posted.
    missed = await world.pool.fetchval(
        "SELECT id FROM activity_occurrences WHERE activity_id = $1 AND announced_at IS NULL ORDER BY opens_at LIMIT 1",
        aid,
    )
    await world.pool.execute(
        "UPDATE activity_occurrences SET opens_at = now() - interval '2 hours', closes_at = now() - interval '1 hour'"
        " WHERE id = $1",
        missed,
    )
    await world.run_job("activities.announce")
    row = await world.pool.fetchrow("SELECT post_id, announced_at FROM activity_occurrences WHERE id = $1", missed)
    assert row["post_id"] is None and row["announced_at"] is not None


async def test_editing_the_schedule_and_the_time_zone_regenerates_what_has_not_opened(world, people):
    alice, bob, *_ = people
    cid = await world.community(alice, bob)
    activity = await create_activity(
        world,
        alice,
        cid,
        windowStart="07:00",
        windowEnd="08:00",
        startsOn=(datetime.now(SHANGHAI) + timedelta(days=1)).date().isoformat(),
    )
    aid = int(activity["id"])
    first = await world.pool.fetchval("SELECT min(opens_at) FROM activity_occurrences WHERE activity_id = $1", aid)
    assert first.astimezone(SHANGHAI).time() == time(7)

    assert_problem(
        await world.api.put(f"/v1/communities/{cid}/timezone", json={"timeZone": "Mars/Base"}, headers=alice.headers),
        400,
        "validation_failed",
    )
    assert_problem(
        await world.api.put(f"/v1/communities/{cid}/timezone", json={"timeZone": "UTC"}, headers=bob.headers),
        403,
        "forbidden",
    )
    changed = await world.api.put(
        f"/v1/communities/{cid}/timezone", json={"timeZone": "Europe/Berlin"}, headers=alice.headers
    )
    assert changed.status_code == 200 and changed.json() == {"timeZone": "Europe/Berlin"}
    read = await world.api.get(f"/v1/communities/{cid}/timezone", headers=bob.headers)
    assert read.json() == {"timeZone": "Europe/Berlin"}
    berlin = ZoneInfo("Europe/Berlin")
    opens = await world.pool.fetch("SELECT opens_at FROM activity_occurrences WHERE activity_id = $1", aid)
    assert opens and all(o["opens_at"].astimezone(berlin).time() == time(7) for o in opens)

    edited = await world.api.put(
        f"/v1/activities/{aid}",
        json={"windowStart": "20:00", "windowEnd": "21:30", "title": "晚间复盘"},
        headers=alice.headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "晚间复盘" and edited.json()["windowStart"] == "20:00"
    opens = await world.pool.fetch("SELECT opens_at, closes_at FROM activity_occurrences WHERE activity_id = $1", aid)
    assert all(o["opens_at"].astimezone(berlin).time() == time(20) for o in opens)
    assert all(o["closes_at"] - o["opens_at"] == timedelta(minutes=90) for o in opens)

    assert (await world.api.delete(f"/v1/activities/{aid}", headers=alice.headers)).status_code == 204
    assert await world.pool.fetchval("SELECT count(*) FROM activity_occurrences WHERE activity_id = $1", aid) == 0
    assert_problem(
        await world.api.put(f"/v1/activities/{aid}", json={"title": "x"}, headers=alice.headers),
        409,
        "activity_ended",
    )
    listed = (await world.api.get(f"/v1/communities/{cid}/activities?status=ended", headers=bob.headers)).json()
    assert [item["id"] for item in listed["items"]] == [str(aid)]


async def test_callers_without_standing_get_nothing(world, people):
    alice, bob, carol, dave = people
    cid = await world.community(alice, bob)
    activity = await create_activity(world, alice, cid)
    aid = activity["id"]
    outsider = dave.headers
    by_id = [
        ("GET", f"/v1/activities/{aid}", None),
        ("PUT", f"/v1/activities/{aid}", {"title": "mine"}),
        ("DELETE", f"/v1/activities/{aid}", None),
        ("GET", f"/v1/activities/{aid}/occurrences", None),
        ("POST", f"/v1/activities/{aid}/check-ins", {"text": "hi"}),
        ("GET", f"/v1/activities/{aid}/check-ins", None),
        ("GET", f"/v1/activities/{aid}/ranking", None),
    ]
    for method, url, body in by_id:
        assert_problem(await world.api.request(method, url, json=body, headers=outsider), 404, "not_found")
    in_community = [
        (
            "POST",
            f"/v1/communities/{cid}/activities",
            {"title": "t", "prompt": "p", "recurrence": "daily", "windowStart": "07:00", "windowEnd": "08:00"},
        ),
        ("GET", f"/v1/communities/{cid}/activities", None),
        ("GET", f"/v1/communities/{cid}/timezone", None),
        ("PUT", f"/v1/communities/{cid}/timezone", {"timeZone": "UTC"}),
    ]
    for method, url, body in in_community:
        assert_problem(await world.api.request(method, url, json=body, headers=outsider), 403, "not_member")
    # A plain member reads and checks in, but does not manage.
    for method, url, body in [by_id[1], by_id[2], in_community[0], in_community[3]]:
        assert_problem(await world.api.request(method, url, json=body, headers=bob.headers), 403, "forbidden")
    for method, url, body in by_id:
        assert_problem(await world.api.request(method, url, json=body), 401, "unauthorized")
    assert_problem(await world.api.get("/v1/activities/999999999", headers=alice.headers), 404, "not_found")
    # A member who left loses access at once.
    assert (await world.api.delete(f"/v1/communities/{cid}/members/me", headers=bob.headers)).status_code == 204
    assert_problem(await check_in(world, bob, aid), 404, "not_found")


async def test_checking_into_an_ended_activity_says_it_ended(world, people):
    """Once an ended activity's last window has closed, a check-in answers `activity_ended`, not `check_in_late`
    ("come back next time": there is no next time)."""
    alice, bob, *_ = people
    cid = await world.community(alice, bob)
    activity = await create_activity(world, alice, cid)
    assert (await world.api.delete(f"/v1/activities/{activity['id']}", headers=alice.headers)).status_code == 204
    await world.pool.execute(  # the window that was open when it ended has closed since
        "UPDATE activity_occurrences SET opens_at = opens_at - interval '1 day', "
        "closes_at = now() - interval '1 minute' WHERE id = $1",
        int(activity["current"]["id"]),
    )
    assert_problem(await check_in(world, bob, activity["id"]), 409, "activity_ended")


async def test_an_activity_whose_schedule_ran_out_says_it_ended(world, people):
    """An activity whose last day (`endsOn`, or the last of its `dates`) is over has no next window either: once
    its last window closed, a check-in answers `activity_ended`, not `check_in_late` ("come back next time"), as
    for one an admin ended. One whose next day is still to come (beyond the occurrences made so far) is late."""
    alice, bob, *_ = people
    cid = await world.community(alice, bob)
    today = datetime.now(SHANGHAI).date()
    weekday = today.isoweekday()
    schedules = {
        "ends today": {"endsOn": today.isoformat()},
        "no weekday left": {"recurrence": "weekly", "weekdays": [weekday], "endsOn": str(today + timedelta(days=5))},
        "last date": {"recurrence": "dates", "dates": [today.isoformat()]},
        "a date to come": {"recurrence": "dates", "dates": [today.isoformat(), str(today + timedelta(days=40))]},
    }
    answers = {}
    for name, schedule in schedules.items():
        activity = await create_activity(world, alice, cid, **schedule)
        await world.pool.execute(  # today's window has closed
            "UPDATE activity_occurrences SET opens_at = now() - interval '2 hours', "
            "closes_at = now() - interval '1 minute' WHERE id = $1",
            int(activity["current"]["id"]),
        )
        answers[name] = (await check_in(world, bob, activity["id"])).json()["code"]
    assert answers == {
        "ends today": "activity_ended",
        "no weekday left": "activity_ended",
        "last date": "activity_ended",
        "a date to come": "check_in_late",
    }


async def test_an_activity_whose_last_day_is_over_is_ended_everywhere(world, people):
    """Once the local day of its `endsOn` (or its last date) is over, in the community's time zone, an activity is
    ended as one an admin ended: `status` ended in its detail and the list, listed under `?status=ended` (paged by
    the cursor) and not under `active`, and editing it answers `activity_ended`. One whose last day is today is
    active. Two communities, a day ahead of UTC and a day behind it for part of the day: at any hour one of them has
    a local day that differs from UTC's."""
    alice, bob, *_ = people
    ended, running = {}, {}
    for zone_name in ("Pacific/Kiritimati", "Etc/GMT+12"):
        zone = ZoneInfo(zone_name)
        cid = await world.community(alice, bob, name=f"circle in {zone_name}")
        put = await world.api.put(
            f"/v1/communities/{cid}/timezone", json={"timeZone": zone_name}, headers=alice.headers
        )
        assert put.status_code == 200, put.text
        today = datetime.now(zone).date()
        yesterday = today - timedelta(days=1)
        window = local_window(zone)
        schedules = {
            "ended yesterday": ({"endsOn": today.isoformat()}, [yesterday - timedelta(days=3), yesterday, []]),
            "last date yesterday": (
                {"recurrence": "dates", "dates": [today.isoformat()]},
                [yesterday - timedelta(days=3), None, [yesterday - timedelta(days=3), yesterday]],
            ),
        }
        for name, (fields, (starts_on, ends_on, dates)) in schedules.items():
            activity = await create_activity(world, alice, cid, **window, **fields)
            # Scheduled in the past (the API refuses that): its days are over, its occurrences with them.
            await world.pool.execute(
                "UPDATE activities SET starts_on = $2, ends_on = $3, dates = $4 WHERE id = $1",
                int(activity["id"]),
                starts_on,
                ends_on,
                dates,
            )
            await world.pool.execute("DELETE FROM activity_occurrences WHERE activity_id = $1", int(activity["id"]))
            ended[activity["id"]] = (cid, name)
        for fields in ({"endsOn": today.isoformat()}, {"recurrence": "dates", "dates": [today.isoformat()]}):
            activity = await create_activity(world, alice, cid, **window, **fields)
            running[activity["id"]] = (cid, fields)

    async def listed(cid: str, status: str | None) -> list[tuple[str, str]]:
        items, cursor = [], None
        while True:
            params = {"limit": 1, **({"status": status} if status else {}), **({"cursor": cursor} if cursor else {})}
            page = await world.api.get(f"/v1/communities/{cid}/activities", params=params, headers=bob.headers)
            assert page.status_code == 200, page.text
            items += [(item["id"], item["status"]) for item in page.json()["items"]]
            if (cursor := page.json()["nextCursor"]) is None:
                return items

    for cid in {cid for cid, _ in [*ended.values(), *running.values()]}:
        mine_ended = {aid for aid, (c, _) in ended.items() if c == cid}
        mine_running = {aid for aid, (c, _) in running.items() if c == cid}
        every = await listed(cid, None)
        assert dict(every) == {**dict.fromkeys(mine_ended, "ended"), **dict.fromkeys(mine_running, "active")}
        assert await listed(cid, "ended") == sorted(((aid, "ended") for aid in mine_ended), key=lambda i: -int(i[0]))
        assert await listed(cid, "active") == sorted(
            ((aid, "active") for aid in mine_running), key=lambda i: -int(i[0])
        )
    for aid, what in ended.items():
        read = await world.api.get(f"/v1/activities/{aid}", headers=bob.headers)
        assert read.status_code == 200 and read.json()["status"] == "ended", (what, read.text)
        for change in ({"rewardPoints": 5}, {"endsOn": str(date.today() + timedelta(days=30))}):
            edited = await world.api.put(f"/v1/activities/{aid}", json=change, headers=alice.headers)
            assert_problem(edited, 409, "activity_ended")
    for aid, what in running.items():
        read = await world.api.get(f"/v1/activities/{aid}", headers=bob.headers)
        assert read.status_code == 200 and read.json()["status"] == "active", (what, read.text)
        edited = await world.api.put(f"/v1/activities/{aid}", json={"rewardPoints": 5}, headers=alice.headers)
        assert edited.status_code == 200 and edited.json()["status"] == "active", (what, edited.text)


async def standing(world, member, activity_id: str) -> dict:
    response = await world.api.get(f"/v1/activities/{activity_id}", headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()["me"]


async def ranked(world, member, activity_id: str) -> list[tuple]:
    response = await world.api.get(f"/v1/activities/{activity_id}/ranking", headers=member.headers)
    assert response.status_code == 200, response.text
    return [(e["userId"], e["checkIns"], e["points"], e["longestStreak"]) for e in response.json()["items"]]


async def test_a_check_in_whose_post_is_deleted_or_removed_no_longer_counts(world, people):
    """A check-in is its post: deleted by its author or an admin, or removed by moderation, it earns no points, no
    streak and no place in the ranking or the profile, and the member may check into the open window again."""
    alice, bob, carol, dave = people
    cid = await world.community(alice, bob, carol, dave)
    activity = await create_activity(world, alice, cid, rewardPoints=10)
    aid = activity["id"]
    made = {}
    for member in (bob, carol, dave):
        response = await check_in(world, member, aid, f"{member.name} 六点起床，跑了五公里")
        assert response.status_code == 201, response.text
        made[member.name] = response.json()
    assert await standing(world, bob, aid) == {
        "checkedInNow": True,
        "checkIns": 1,
        "points": 10,
        "currentStreak": 1,
        "longestStreak": 1,
    }

    # Bob deletes his own check-in post.
    deleted = await world.api.delete(f"/v1/posts/{made['bob']['postId']}", headers=bob.headers)
    assert deleted.status_code == 204, deleted.text
    assert await standing(world, bob, aid) == {
        "checkedInNow": False,
        "checkIns": 0,
        "points": 0,
        "currentStreak": 0,
        "longestStreak": 0,
    }
    assert {entry[0] for entry in await ranked(world, alice, aid)} == {str(carol.id), str(dave.id)}
    profile = await world.api.get(f"/v1/communities/{cid}/members/{bob.id}", headers=alice.headers)
    contribution = profile.json()["contribution"]
    assert (contribution["checkIns"], contribution["points"], contribution["longestStreak"]) == (0, 0, 0)
    # He still finds it among his own, marked as no longer counted.
    listed = (await world.api.get(f"/v1/activities/{aid}/check-ins", headers=bob.headers)).json()["items"]
    assert [(item["id"], item["counted"]) for item in listed if item["userId"] == str(bob.id)] == [
        (made["bob"]["id"], False)
    ]
    assert all(item["counted"] for item in listed if item["userId"] != str(bob.id))

    # Carol's check-in is removed by an admin from a report: it goes too.
    reported = await world.api.post(
        "/v1/reports",
        json={"targetKind": "post", "targetId": made["carol"]["postId"], "reason": "spam"},
        headers=dave.headers,
    )
    assert reported.status_code == 201, reported.text
    cases = (await world.api.get(f"/v1/communities/{cid}/moderation", headers=alice.headers)).json()["items"]
    [case] = [c for c in cases if c["targetId"] == made["carol"]["postId"]]
    decided = await world.api.post(
        f"/v1/moderation/cases/{case['id']}/decision", json={"action": "remove"}, headers=alice.headers
    )
    assert decided.status_code == 200, decided.text
    assert await ranked(world, alice, aid) == [(str(dave.id), 1, 10, 1)]
    current = (await world.api.get(f"/v1/activities/{aid}", headers=dave.headers)).json()["current"]
    assert current["checkInCount"] == 1

    # The window is still open: Bob checks in again, and that one counts (once).
    again = await check_in(world, bob, aid, "重新打卡：六点起床")
    assert again.status_code == 201, again.text
    assert again.json()["streak"] == 1 and again.json()["counted"] is True
    assert_problem(await check_in(world, bob, aid, "第三次"), 409, "already_checked_in")
    assert (await standing(world, bob, aid))["points"] == 10
    assert sorted(await ranked(world, alice, aid)) == sorted([(str(bob.id), 1, 10, 1), (str(dave.id), 1, 10, 1)])


async def test_a_void_check_in_breaks_the_streak_it_was_part_of(world, people):
    """Deleting the post of the middle check-in of a run of three splits the run: the longest streak falls to 1,
    and the next check-in continues the run of the check-ins after the gap."""
    alice, bob, *_ = people
    activity = await community_activity(world, alice, bob, "UTC", time(8), time(20), date(2025, 3, 1))
    aid = int(activity["id"])
    days = await generate_at(world, aid, datetime(2025, 3, 1, tzinfo=UTC), days=5)
    made = [await check_in_at(world, aid, bob.id, o["opens_at"] + timedelta(hours=1)) for o in days[:3]]
    assert [row["streak"] for row in made] == [1, 2, 3]
    deleted = await world.api.delete(f"/v1/posts/{made[1]['post_id']}", headers=bob.headers)
    assert deleted.status_code == 204, deleted.text
    assert await ranked(world, alice, str(aid)) == [(str(bob.id), 2, 0, 1)]
    # The fourth day continues the third day's run (1), not the one the void check-in made (3).
    fourth = await check_in_at(world, aid, bob.id, days[3]["opens_at"] + timedelta(hours=1))
    assert fourth["streak"] == 2
    assert await ranked(world, alice, str(aid)) == [(str(bob.id), 3, 0, 2)]


async def test_a_check_in_and_the_void_of_the_one_before_it_see_each_other_whichever_commits_first(world, people):
    """Today's check-in reads yesterday's streak while yesterday's post is being deleted: whichever transaction comes
    second waits for the first and sees what it wrote, so today's streak never continues a void check-in."""
    alice, bob, *_ = people
    activity = await community_activity(world, alice, bob, "UTC", time(8), time(20), date(2025, 3, 1))
    aid = int(activity["id"])
    days = await generate_at(world, aid, datetime(2025, 3, 1, tzinfo=UTC), days=5)
    made = [await check_in_at(world, aid, bob.id, o["opens_at"] + timedelta(hours=1)) for o in days[:2]]
    assert [row["streak"] for row in made] == [1, 2]

    # The deletion first: the check-in of the third day waits, then starts a new run.
    async with world.pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE posts SET deleted_at = now() WHERE id = $1", made[1]["post_id"])
        third = asyncio.create_task(check_in_at(world, aid, bob.id, days[2]["opens_at"] + timedelta(hours=1)))
        await asyncio.sleep(0.3)
        assert not third.done()
    assert (await third)["streak"] == 1

    # The check-in first (the fourth day, continuing the third): the deletion of the third waits, then counts the
    # fourth again too.
    fourth_at = days[3]["opens_at"] + timedelta(hours=1)
    async with world.pool.acquire() as conn:
        async with conn.transaction():
            row = await conn.fetchrow(q.ACTIVITY, aid)
            occurrence = await checkins._target_occurrence(conn, row, None, fourth_at)
            fourth = await checkins.record_check_in(conn, row, occurrence, bob.id, "打卡", "visible", fourth_at, [])
            third_post = await world.pool.fetchval("SELECT post_id FROM check_ins WHERE id = $1", (await third)["id"])
            deleting = asyncio.create_task(
                world.pool.execute("UPDATE posts SET deleted_at = now() WHERE id = $1", third_post)
            )
            await asyncio.sleep(0.3)
            assert not deleting.done()
        await deleting
        assert await conn.fetchval("SELECT streak FROM check_ins WHERE id = $1", fourth) == 1
    assert await ranked(world, alice, str(aid)) == [(str(bob.id), 2, 0, 1)]
