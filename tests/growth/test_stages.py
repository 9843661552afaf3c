"""Stages that act: every transition, up (gather -> active -> operate -> commercialise) and down again, driven
by members' posts, comments, joins and presence written at chosen local times (tests/scenario.py), the daily
job's computation run as of successive days, and the one stage read over HTTP on the stage route (with its
advice), the community and the metrics.

Three bursts of activity, each of distinct members, on days T0, T0+10 and T0+20 (T0 = 28 days ago):
P1: 5 speakers, 10 comments, 10 members online at once, 10 joins -> alone `active` (speakers < 10);
P2: 5 speakers, 30 comments, 5 online at once; P1+P2: 10 speakers, 40 comments, peak 10 -> `operate`;
P3: 10 speakers, 60 comments, nobody online -> alone `active` (peak 0 < 5);
P1+P2+P3: 20 speakers, 100 comments, peak 10, 10 joins -> `commercialise`; P2+P3: 15, 90, 5 -> `operate`.
A 30-day window as of T0-1 holds nothing, of T0 P1, of T0+10 P1+P2, of T0+20 all, of T0+30 P2+P3, of T0+40
P3, of T0+50 nothing again.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from service.interactions import logic, stages
from tests.scenario import Factory

TZ = ZoneInfo("Asia/Shanghai")


def local(day, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), TZ)


async def burst(f: Factory, cid: int, speakers: list[int], comments: int, online: int, day) -> None:
    post = await f.post(cid, speakers[0], f"{day} 的话题：大家最近都在忙什么？", local(day, 9))
    for i, who in enumerate(speakers[1:]):
        await f.post(cid, who, f"{day} 我来说两句，第{i}位", local(day, 9, 30))
    for i in range(comments):
        await f.comment(post, speakers[i % len(speakers)], f"{day} 的第{i}条评论，加油", local(day, 10))
    for who in speakers[:online]:
        await f.session(cid, who, local(day, 20), local(day, 21))


async def test_every_stage_transition_up_and_down_comes_from_activity(client, settings, database_url):
    f = await Factory.connect(database_url, settings)
    try:
        today = datetime.now(ZoneInfo(settings.metrics_timezone)).date()
        t0 = today - timedelta(days=28)
        owner = await f.user("owner")
        cid = await f.community("Runners", owner)
        people = [await f.user(f"m{i}") for i in range(20)]
        newcomers, regulars = people[:10], people[10:]
        for who in newcomers:  # P1's ten joins
            await f.join(cid, who, local(t0, 8))
        for who in regulars:  # members since long before: no join in any window
            await f.conn.execute(
                "INSERT INTO memberships (community_id, user_id, role, status, via, joined_at) "
                "VALUES ($1, $2, 'member', 'active', 'free', now() - interval '90 days')",
                cid,
                who,
            )
        await burst(f, cid, newcomers[:5], 10, 5, t0)
        for who in newcomers[5:]:  # P1's peak: all ten newcomers online at once
            await f.session(cid, who, local(t0, 20), local(t0, 21))
        await burst(f, cid, newcomers[5:], 30, 5, t0 + timedelta(days=10))
        await burst(f, cid, regulars, 60, 0, t0 + timedelta(days=20))
        await logic.rollup_incremental(f.conn, settings)

        headers = {"Authorization": f"Bearer {f.token(owner)}"}
        seen = []
        for offset, expected in ((-1, "gather"), (0, "active"), (10, "operate"), (20, "commercialise")) + (
            (30, "operate"),
            (40, "active"),
            (50, "gather"),
        ):
            await stages.refresh_stages(f.conn, settings, [cid], today=t0 + timedelta(days=offset))
            answer = await client.get(f"/v1/communities/{cid}/stage", headers=headers)
            assert answer.status_code == 200, answer.text
            stage = answer.json()
            assert stage["stage"] == expected, (offset, stage["totals"])
            if seen:
                assert stage["previousStage"] == seen[-1]
            seen.append(expected)
            community = (await client.get(f"/v1/communities/{cid}", headers=headers)).json()
            window = {"from": str(today), "to": str(today)}  # whatever window is asked: the one stage
            metrics = (await client.get(f"/v1/communities/{cid}/metrics", params=window, headers=headers)).json()
            assert community["stage"] == metrics["stage"] == expected
            actions = [a["action"] for a in stage["advice"]]
            assert (
                actions
                == {
                    "gather": ["invite", "welcome"],
                    "active": ["theme_activity"],
                    "operate": ["meetup"],
                    "commercialise": ["paid_app", "collection", "paid_entry"],
                }[expected]
            )
            assert all(a["text"] for a in stage["advice"])
            if expected == "commercialise":
                assert stage["nextStage"] is None and stage["missing"] == []
            else:
                assert stage["missing"] and all(gap["have"] < gap["need"] for gap in stage["missing"])
        assert seen == ["gather", "active", "operate", "commercialise", "operate", "active", "gather"]

        member = {"Authorization": f"Bearer {f.token(people[0])}"}
        refused = await client.get(f"/v1/communities/{cid}/stage", headers=member)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    finally:
        await f.close()


async def test_a_community_the_job_never_saw_is_gathering_and_told_to_invite(client, settings, database_url):
    f = await Factory.connect(database_url, settings)
    try:
        owner = await f.user("owner")
        cid = await f.community("New", owner)
        stage = (
            await client.get(f"/v1/communities/{cid}/stage", headers={"Authorization": f"Bearer {f.token(owner)}"})
        ).json()
        assert stage["stage"] == "gather" and stage["computedAt"] is None and stage["totals"] is None
        assert stage["nextStage"] == "active" and [g["metric"] for g in stage["missing"]] == [
            "effectiveSpeakers",
            "validComments",
        ]
        assert [a["action"] for a in stage["advice"]] == ["invite", "welcome"]
    finally:
        await f.close()
