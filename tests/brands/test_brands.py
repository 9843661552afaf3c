"""Brands over real HTTP: the team acts as admins in the brand's communities (and nowhere else), attached
communities inherit the brand's welcome and keyword robots, the brand page, and who may do what."""

from __future__ import annotations

import asyncio
from datetime import datetime

import asyncpg

from service.auth.deletion import erase_due
from service.interactions.stages import refresh_stages
from tests.world import assert_problem

WELCOME = "欢迎 {nickname} 来到「{community}」，山野跑团大家庭又多了一位跑友！"
RULE = {"keyword": "报名", "matchMode": "contains", "reply": "报名请看群公告置顶～"}


async def create_brand(world, owner, **defaults) -> dict:
    body = {"name": "山野跑团", "defaults": defaults}
    response = await world.client.post("/v1/brands", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def attach(world, who, brand_id: str, community_id: str, status: int = 200, **body) -> dict:
    url = f"/v1/brands/{brand_id}/communities"
    response = await world.client.post(url, json={"communityId": community_id, **body}, headers=who.headers)
    assert response.status_code == status, response.text
    return response.json()


async def brand_community_with_its_team(world) -> tuple:
    """A brand's community: its owner (on the brand's team), the brand's owner (`boss`, no member), a team member
    who joined as a plain member (`helper`), an admin the owner promoted and a plain member; then the brand and the
    community's id."""
    owner, boss, helper, admin, member = [await world.member(n) for n in ("主理人", "品牌方", "助理", "群管", "成员")]
    brand = await create_brand(world, boss)
    await world.client.put(f"/v1/brands/{brand['id']}/admins/{owner.id}", headers=boss.headers)
    cid = await world.community(owner, helper, admin, member, name="品牌群")
    await attach(world, owner, brand["id"], cid)
    await world.client.put(f"/v1/brands/{brand['id']}/admins/{helper.id}", headers=boss.headers)
    promoted = await world.client.put(
        f"/v1/communities/{cid}/members/{admin.id}", json={"role": "admin"}, headers=owner.headers
    )
    assert promoted.status_code == 200, promoted.text
    return owner, boss, helper, admin, member, brand, cid


async def join(world, who, cid: str) -> dict:
    response = await world.client.post(f"/v1/communities/{cid}/join", headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def rules(world, who, cid: str) -> list[tuple[str, str]]:
    response = await world.client.get(f"/v1/communities/{cid}/robot-rules", headers=who.headers)
    assert response.status_code == 200, response.text
    return [(rule["keyword"], rule["reply"]) for rule in response.json()["items"]]


async def test_a_brand_with_three_communities_shares_robots_and_welcome_defaults(world, db):
    owner, runner, walker = await world.member("阿山"), await world.member("小跑"), await world.member("小走")
    brand = await create_brand(
        world,
        owner,
        welcomeTemplate=WELCOME,
        introductionRequired=True,
        introductionPrompt="说说你的配速",
        robotRules=[RULE],
    )
    assert brand["team"][0]["role"] == "owner" and brand["defaults"]["robotRules"] == [RULE]
    cids = [await world.community(owner, name=f"跑团{n}") for n in range(3)]
    # The third already answers the keyword its own way: its rule stays (the community's setting wins).
    own = {"keyword": "报名", "reply": "本群报名找群主"}
    created = await world.client.post(f"/v1/communities/{cids[2]}/robot-rules", json=own, headers=owner.headers)
    assert created.status_code == 201, created.text
    for cid in cids:
        page = await attach(world, owner, brand["id"], cid)
    assert [c["id"] for c in page["communities"]] == cids
    assert {(c["memberCount"], c["stage"], c["activityScore"]) for c in page["communities"]} == {(1, "gather", 0)}
    assert await rules(world, owner, cids[0]) == await rules(world, owner, cids[1]) == [("报名", RULE["reply"])]
    assert await rules(world, owner, cids[2]) == [("报名", "本群报名找群主")]

    for n, cid in enumerate(cids):
        joined = await join(world, runner, cid)
        assert joined["communityId"] == cid
        assert joined["welcome"]["text"] == f"欢迎 小跑 来到「跑团{n}」，山野跑团大家庭又多了一位跑友！"
        assert joined["welcome"]["introductionRequired"] and joined["welcome"]["introductionPrompt"] == "说说你的配速"
    # The robot answers in every community of the brand (after the introduction the brand asks for).
    intro = {"text": "我是小跑，配速六分，周末常跑江边"}
    post = await world.client.post(f"/v1/communities/{cids[1]}/introduction", json=intro, headers=runner.headers)
    assert post.status_code == 201, post.text
    asked = await world.post(runner, cids[1], "我想报名周末的活动")
    replies = await db.fetch("SELECT text FROM comments WHERE robot = 'keyword' AND post_id = $1", int(asked["id"]))
    assert [r["text"] for r in replies] == [RULE["reply"]]

    # A community overrides the default afterwards; the others keep it.
    changed = await world.client.put(
        f"/v1/communities/{cids[0]}", json={"welcomeTemplate": "{nickname} 你好"}, headers=owner.headers
    )
    assert changed.status_code == 200, changed.text
    assert (await join(world, walker, cids[0]))["welcome"]["text"] == "小走 你好"
    assert (await join(world, walker, cids[1]))["welcome"]["text"].startswith("欢迎 小走 来到「跑团1」")

    page = (await world.client.get(f"/v1/brands/{brand['id']}", headers=owner.headers)).json()
    assert [c["memberCount"] for c in page["communities"]] == [3, 3, 2]


async def test_the_brand_team_is_admin_everywhere_in_the_brand_and_nowhere_else(world):
    owner, boss, helper, member, stranger = [
        await world.member(n) for n in ("主理人", "品牌方", "助理", "成员", "路人")
    ]
    brand = await create_brand(world, boss)
    inside = await world.community(owner, member, name="品牌群")
    outside = await world.community(owner, member, name="自家群")
    await attach(world, owner, brand["id"], inside, status=403)  # the owner of the community is not on the team
    added = await world.client.put(f"/v1/brands/{brand['id']}/admins/{owner.id}", headers=boss.headers)
    assert added.status_code == 200, added.text
    await attach(world, owner, brand["id"], inside)
    assert_problem(
        await world.client.post(
            f"/v1/brands/{brand['id']}/communities", json={"communityId": inside}, headers=boss.headers
        ),
        403,
        "forbidden",
    )  # the brand's owner does not own the community

    await world.client.put(f"/v1/brands/{brand['id']}/admins/{helper.id}", headers=boss.headers)
    edit = {"description": "品牌方来过"}
    for admin in (boss, helper):  # neither is a member of either community
        assert (
            await world.client.put(f"/v1/communities/{inside}", json=edit, headers=admin.headers)
        ).status_code == 200
        listed = await world.client.get(f"/v1/communities/{inside}/join-requests", headers=admin.headers)
        assert listed.status_code == 200, listed.text
        muted = await world.client.put(
            f"/v1/communities/{inside}/members/{member.id}", json={"muteMinutes": 10}, headers=admin.headers
        )
        assert muted.status_code == 200, muted.text
        assert_problem(
            await world.client.put(f"/v1/communities/{outside}", json=edit, headers=admin.headers), 403, "not_member"
        )
        # Admin, not owner: the owner's settings stay the owner's.
        refused = await world.client.put(f"/v1/communities/{inside}", json={"memberCap": 50}, headers=admin.headers)
        assert_problem(refused, 403, "forbidden")

    # Off the team: the rights end at once.
    removed = await world.client.delete(f"/v1/brands/{brand['id']}/admins/{helper.id}", headers=boss.headers)
    assert removed.status_code == 204
    assert_problem(
        await world.client.put(f"/v1/communities/{inside}", json=edit, headers=helper.headers), 403, "not_member"
    )

    # Who may do what on the brand itself.
    assert_problem(await world.client.get(f"/v1/brands/{brand['id']}", headers=stranger.headers), 403, "forbidden")
    assert_problem(
        await world.client.put(f"/v1/brands/{brand['id']}/admins/{stranger.id}", headers=owner.headers),
        403,
        "forbidden",
    )
    assert_problem(
        await world.client.delete(f"/v1/brands/{brand['id']}/admins/{boss.id}", headers=boss.headers), 403, "forbidden"
    )
    assert_problem(await world.client.get("/v1/brands/999999", headers=boss.headers), 404, "not_found")
    other = await create_brand(world, owner)
    assert_problem(
        await world.client.post(
            f"/v1/brands/{other['id']}/communities", json={"communityId": inside}, headers=owner.headers
        ),
        409,
        "community_in_brand",
    )
    bad = await world.client.post(
        "/v1/brands", json={"name": "x", "defaults": {"welcomeTemplate": "{who}"}}, headers=boss.headers
    )
    assert_problem(bad, 400, "validation_failed")
    page = (await world.client.get(f"/v1/brands/{brand['id']}", headers=owner.headers)).json()
    assert [(t["userId"], t["role"]) for t in page["team"]] == [(str(boss.id), "owner"), (str(owner.id), "admin")]


async def test_a_community_admin_cannot_mute_or_remove_someone_who_stands_for_the_brand(world):
    """The brand's team stands as admin in the brand's communities, joined or not: a community's admin may no more
    mute or remove a team member who joined than another admin (the rule read the membership row alone, where the
    team member is a plain member); the community's owner still may, as for any admin."""
    owner, boss, helper, admin, member, brand, cid = await brand_community_with_its_team(world)

    def mute(who, target, minutes: int = 10):
        url = f"/v1/communities/{cid}/members/{target.id}"
        return world.client.put(url, json={"muteMinutes": minutes}, headers=who.headers)

    assert_problem(await mute(admin, helper), 403, "forbidden")
    removed = await world.client.delete(f"/v1/communities/{cid}/members/{helper.id}", headers=admin.headers)
    assert_problem(removed, 403, "forbidden")
    assert_problem(await mute(helper, admin), 403, "forbidden")  # and the team member no more mutes an admin
    posted = await world.client.post(
        f"/v1/communities/{cid}/posts", json={"text": "品牌新品试用招募"}, headers=helper.headers
    )
    assert posted.status_code == 201, posted.text

    for actor in (admin, helper):  # either mutes a plain member
        assert (await mute(actor, member)).status_code == 200
    muted = await mute(owner, helper)  # the owner outranks the team, as any admin
    assert muted.status_code == 200 and muted.json()["mutedUntil"] is not None, muted.text
    assert (await mute(owner, helper, 0)).status_code == 200


async def test_the_brand_team_reads_the_feed_it_moderates_without_joining(world, db):
    """The team stands as admin in the brand's communities, member or not (docs/brands.md): it pins, marks essence,
    deletes and searches there, so it reads the feed, a post and its comments too. The feed's reads took the
    membership row alone: 403 not_member on every page, and a post the team wrote was stored, then answered 403."""
    owner, boss, helper, admin, member, brand, cid = await brand_community_with_its_team(world)
    post = await world.post(member, cid, "周六一起跑步")
    await world.comment(member, post["id"], "我也去")
    pinned = await world.client.post(f"/v1/communities/{cid}/pins", json={"postId": post["id"]}, headers=boss.headers)
    assert pinned.status_code == 200, pinned.text  # boss never joined
    assert (await world.client.put(f"/v1/posts/{post['id']}/essence", headers=boss.headers)).status_code == 200

    for url in (
        f"/v1/communities/{cid}/feed",
        f"/v1/communities/{cid}/feed?order=hot",
        f"/v1/communities/{cid}/essence",
        f"/v1/communities/{cid}/for-you",
        f"/v1/communities/{cid}/members/{member.id}/posts",
        f"/v1/posts/{post['id']}",
        f"/v1/posts/{post['id']}/comments",
    ):
        read = await world.client.get(url, headers=boss.headers)
        assert read.status_code == 200, (url, read.text)
    assert post["id"] in [item["id"] for item in (await world.feed(boss, cid))["items"]]

    written = await world.client.post(f"/v1/communities/{cid}/posts", json={"text": "品牌方来了"}, headers=boss.headers)
    assert written.status_code == 201, written.text
    assert await db.fetchval("SELECT count(*) FROM posts WHERE author_id = $1", boss.id) == 1
    stranger = await world.member("路人")  # neither a member nor on the team: still refused
    for url in (f"/v1/communities/{cid}/feed", f"/v1/posts/{post['id']}", f"/v1/posts/{post['id']}/comments"):
        assert_problem(await world.client.get(url, headers=stranger.headers), 403, "not_member")


async def test_the_brand_team_hears_of_comments_and_likes_on_what_it_wrote_without_joining(world):
    """A team member who never joined writes in the brand's community and reads the answers there (docs/brands.md), so
    the inbox tells them of comments and likes as it tells a member: it reached active members alone."""
    owner, boss, helper, admin, member, brand, cid = await brand_community_with_its_team(world)
    post = await world.post(boss, cid, "新品试用名额开放")  # boss never joined
    await world.comment(member, post["id"], "想要试用")
    assert (await world.client.put(f"/v1/posts/{post['id']}/like", headers=member.headers)).status_code == 200
    inbox = await world.client.get("/v1/me/notifications", headers=boss.headers)
    assert [item["kind"] for item in inbox.json()["items"]] == ["likes", "comment"], inbox.text
    assert inbox.json()["unreadCount"] == 2


async def test_a_brand_team_member_who_never_joined_has_a_profile_and_posts_there_as_an_admin(world, db):
    """The team stands as admin in the brand's communities, member or not: their profile and their posts there answer
    as any admin's (role `admin`), to themselves and to the members who read what they write. Both answered 404: they
    read the membership row alone."""
    owner, boss, helper, admin, member, brand, cid = await brand_community_with_its_team(world)
    post = await world.post(boss, cid, "新品试用名额开放")  # boss never joined
    posts = await world.client.get(f"/v1/communities/{cid}/members/{boss.id}/posts", headers=member.headers)
    assert posts.status_code == 200, posts.text
    assert [item["id"] for item in posts.json()["items"]] == [post["id"]]
    for who, ref in ((boss, "me"), (member, boss.id), (owner, boss.id)):
        read = await world.client.get(f"/v1/communities/{cid}/members/{ref}", headers=who.headers)
        assert read.status_code == 200, read.text
        profile = read.json()
        assert (profile["userId"], profile["role"], profile["introduction"]) == (str(boss.id), "admin", None)
        assert profile["contribution"]["checkIns"] == 0
    since = await db.fetchval(  # since they stand there: on the team, and the community created
        "SELECT greatest(a.added_at, c.created_at) FROM brand_admins a, communities c"
        " WHERE a.user_id = $1 AND c.id = $2",
        boss.id,
        int(cid),
    )
    assert datetime.fromisoformat(profile["joinedAt"].replace("Z", "+00:00")) == since
    # A team member who joined as a plain member reads as an admin too; a community's owner stays its owner.
    mine = (await world.client.get(f"/v1/communities/{cid}/members/me", headers=helper.headers)).json()
    assert mine["role"] == "admin"
    theirs = (await world.client.get(f"/v1/communities/{cid}/members/{owner.id}", headers=boss.headers)).json()
    assert theirs["role"] == "owner"
    stranger = await world.member("路人")  # neither a member nor on the team
    assert_problem(
        await world.client.get(f"/v1/communities/{cid}/members/{stranger.id}", headers=boss.headers), 404, "not_found"
    )


async def test_a_brand_admin_who_is_not_a_member_has_no_introduction_or_settings_of_their_own(world):
    boss, helper = await world.member("品牌方"), await world.member("助理")
    brand = await create_brand(world, boss)
    await world.client.put(f"/v1/brands/{brand['id']}/admins/{helper.id}", headers=boss.headers)
    cid = await world.community(boss, name="跑团1")
    await attach(world, boss, brand["id"], cid)
    # The team stands as admin here without a membership; an introduction and my settings are a member's own.
    intro = {"text": "我是品牌的小助手"}
    refused = await world.client.post(f"/v1/communities/{cid}/introduction", json=intro, headers=helper.headers)
    assert_problem(refused, 403, "not_member")
    for body in ({"notificationsMuted": True}, {}):
        mine = await world.client.put(f"/v1/communities/{cid}/members/me", json=body, headers=helper.headers)
        assert_problem(mine, 403, "not_member")
    await join(world, helper, cid)
    posted = await world.client.post(f"/v1/communities/{cid}/introduction", json=intro, headers=helper.headers)
    assert posted.status_code == 201, posted.text
    mine = await world.client.put(
        f"/v1/communities/{cid}/members/me", json={"notificationsMuted": True}, headers=helper.headers
    )
    assert mine.status_code == 200 and mine.json()["notificationsMuted"] is True, mine.text


async def test_a_brand_admins_invite_link_dies_with_their_place_on_the_team(world, db):
    boss, helper, first, second = [await world.member(n) for n in ("品牌方", "助理", "新人甲", "新人乙")]
    brand = await create_brand(world, boss)
    added = await world.client.put(f"/v1/brands/{brand['id']}/admins/{helper.id}", headers=boss.headers)
    assert added.status_code == 200, added.text
    cid = await world.community(boss, name="审核群", entryMode="approval")
    await attach(world, boss, brand["id"], cid)
    invite = await world.client.post(f"/v1/communities/{cid}/invites", json={"maxUses": 10}, headers=helper.headers)
    assert invite.status_code == 201, invite.text
    code = invite.json()["code"]
    # On the team (not a member), the helper's link speaks for the community: it admits without review.
    joined = await world.client.post(f"/v1/communities/{cid}/join", json={"inviteCode": code}, headers=first.headers)
    assert joined.status_code == 201, joined.text

    removed = await world.client.delete(f"/v1/brands/{brand['id']}/admins/{helper.id}", headers=boss.headers)
    assert removed.status_code == 204, removed.text
    # Off the team, the link no longer skips the review: it answers as a revoked one, and takes no use.
    refused = await world.client.post(f"/v1/communities/{cid}/join", json={"inviteCode": code}, headers=second.headers)
    assert_problem(refused, 410, "invite_expired")
    assert await db.fetchval("SELECT uses FROM invites WHERE code = $1", code) == 1
    listed = (await world.client.get(f"/v1/communities/{cid}/invites", headers=boss.headers)).json()["items"]
    assert [(i["code"], i["revoked"]) for i in listed] == [(code, True)]
    # Back on the team, the link works again: it lives as long as its creator may make it.
    await world.client.put(f"/v1/brands/{brand['id']}/admins/{helper.id}", headers=boss.headers)
    again = await world.client.post(f"/v1/communities/{cid}/join", json={"inviteCode": code}, headers=second.headers)
    assert again.status_code == 201, again.text


async def test_a_brand_admins_link_and_share_credit_them_while_they_stand_on_the_team(world, db):
    # The team stands as admins in the brand's communities, member or not, and their links admit while they do
    # (INVITER_STANDS): the newcomers they bring are credited to them as to any member who stands there
    # (docs/growth.md). The referral counts on the members' leaderboard once they are members themselves.
    names = ("品牌方", "助理", "新人甲", "新人乙", "新人丙")
    boss, helper, first, second, third = [await world.member(n) for n in names]
    brand = await create_brand(world, boss)
    added = await world.client.put(f"/v1/brands/{brand['id']}/admins/{helper.id}", headers=boss.headers)
    assert added.status_code == 200, added.text
    cid = await world.community(boss, name="跑团一群")
    await attach(world, boss, brand["id"], cid)
    invite = await world.client.post(f"/v1/communities/{cid}/invites", json={"maxUses": 10}, headers=helper.headers)
    assert invite.status_code == 201, invite.text
    post = await world.post(boss, cid, "周六早上七点，公园门口集合")
    shared = await world.client.post(f"/v1/posts/{post['id']}/share", json={"target": "group"}, headers=helper.headers)
    assert shared.status_code == 201, shared.text

    by_link = {"inviteCode": invite.json()["code"]}
    for who, body in ((first, by_link), (second, {"shareCode": shared.json()["code"]})):
        joined = await world.client.post(f"/v1/communities/{cid}/join", json=body, headers=who.headers)
        assert joined.status_code == 201, joined.text
    credited = await db.fetch(
        "SELECT referred_id, referrer_id FROM referrals WHERE community_id = $1 ORDER BY referred_id", int(cid)
    )
    assert [(r["referred_id"], r["referrer_id"]) for r in credited] == [(first.id, helper.id), (second.id, helper.id)]
    log = await world.client.get(f"/v1/communities/{cid}/audit-log?action=member.joined", headers=boss.headers)
    referrers = {e["subjectId"]: e["details"].get("referrerId") for e in log.json()["items"]}
    assert referrers[str(first.id)] == referrers[str(second.id)] == str(helper.id)

    await join(world, helper, cid)
    board = await world.client.get(f"/v1/communities/{cid}/referrals", headers=helper.headers)
    assert board.json()["mine"]["referrals"] == 2, board.text

    # Off the team (and not a member), their share credits nobody, as a departed member's.
    left = await world.client.delete(f"/v1/communities/{cid}/members/me", headers=helper.headers)
    assert left.status_code == 204, left.text
    removed = await world.client.delete(f"/v1/brands/{brand['id']}/admins/{helper.id}", headers=boss.headers)
    assert removed.status_code == 204, removed.text
    late = await world.client.post(
        f"/v1/communities/{cid}/join", json={"shareCode": shared.json()["code"]}, headers=third.headers
    )
    assert late.status_code == 201, late.text
    assert await db.fetchval("SELECT count(*) FROM referrals WHERE referred_id = $1", third.id) == 0


async def test_the_team_downloads_csv_with_chinese_intact_and_each_download_is_recorded(world, db):
    boss, member, stranger = (
        await world.member("品牌方"),
        await world.member("=HYPERLINK(1)"),
        await world.member("路人"),
    )
    brand = await create_brand(world, boss)
    cid = await world.community(boss, member, name="跑团 1群")
    await attach(world, boss, brand["id"], cid)
    response = await world.client.get(f"/v1/brands/{brand['id']}/export", headers=boss.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["x-export-truncated"] == "false"
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "社群ID,社群,用户ID,昵称,角色,加入方式,加入时间,已自我介绍"
    assert [line.split(",")[:5] for line in lines[1:]] == [
        [cid, "跑团 1群", str(boss.id), "品牌方", "owner"],
        [cid, "跑团 1群", str(member.id), "'=HYPERLINK(1)", "member"],  # a formula is shown, never run
    ]
    communities = await world.client.get(
        f"/v1/brands/{brand['id']}/export", params={"report": "communities"}, headers=boss.headers
    )
    assert communities.content.decode("utf-8-sig").splitlines()[1].startswith(f"{cid},跑团 1群,2,")
    assert_problem(
        await world.client.get(f"/v1/brands/{brand['id']}/export", headers=stranger.headers), 403, "forbidden"
    )
    bad = await world.client.get(f"/v1/brands/{brand['id']}/export", params={"report": "x"}, headers=boss.headers)
    assert_problem(bad, 400, "validation_failed")
    logged = await db.fetch("SELECT user_id, report, row_count FROM brand_exports ORDER BY id")
    assert [tuple(r) for r in logged] == [(boss.id, "members", 2), (boss.id, "communities", 1)]


async def test_the_brand_page_shows_the_score_the_stage_job_keeps(world, db, settings):
    boss, member = await world.member("品牌方"), await world.member("小跑")
    brand = await create_brand(world, boss)
    cid = await world.community(boss, member, name="跑团 1群")
    await attach(world, boss, brand["id"], cid)
    await world.post(member, cid, "今天跑了十公里，江边风很大")
    await refresh_stages(db, settings, [int(cid)])  # what the daily interactions.stages job does
    page = (await world.client.get(f"/v1/brands/{brand['id']}", headers=boss.headers)).json()
    (row,) = page["communities"]
    # One effective speaker (new members are counted by the roll-up, not run here).
    assert (row["stage"], row["activityScore"]) == ("gather", settings.weight_effective_speakers)


async def test_a_brands_texts_pass_wechats_content_check(world, db):
    """The brand's default greeting and introduction prompt reach every community attached with them (and the
    community's own pass WeChat's check), and its name shows on them: a risky one stores nothing."""
    boss = await world.member("品牌方")
    for risky in (
        {"name": "sandbox-risky 跑团"},
        {"name": "山野跑团", "description": "来 sandbox-risky 一起"},
        {"name": "山野跑团", "defaults": {"welcomeTemplate": "欢迎 {nickname}，sandbox-risky"}},
        {"name": "山野跑团", "defaults": {"introductionPrompt": "sandbox-risky"}},
    ):
        refused = await world.client.post("/v1/brands", json=risky, headers=boss.headers)
        assert_problem(refused, 422, "content_rejected")
    assert await db.fetchval("SELECT count(*) FROM brands") == 0

    brand = await create_brand(world, boss, welcomeTemplate="欢迎 {nickname}！")
    url = f"/v1/brands/{brand['id']}/defaults"
    changed = await world.client.put(url, json={"introductionPrompt": "说说 sandbox-risky"}, headers=boss.headers)
    assert_problem(changed, 422, "content_rejected")
    stored = await db.fetchrow("SELECT welcome_template, introduction_prompt FROM brands")
    assert (stored["welcome_template"], stored["introduction_prompt"]) == ("欢迎 {nickname}！", None)


async def test_a_retried_brand_answers_the_first_even_with_wechat_down(world):
    """A retry of a brand created (its answer lost) gets that answer, not a second content check that WeChat,
    down by then, would answer 503 while the brand exists."""
    boss = await world.member("品牌方")
    headers = {**boss.headers, "Idempotency-Key": "brand-wechat-down"}
    body = {"name": "山野跑团", "defaults": {}}
    first = await world.client.post("/v1/brands", json=body, headers=headers)
    assert first.status_code == 201, first.text
    checks = (await world.sandbox.stats())["msg_sec_check"]
    await world.sandbox.fault("http500", path_prefix="/wxa/msg_sec_check")
    try:
        again = await world.client.post("/v1/brands", json=body, headers=headers)
    finally:
        await world.sandbox.control("DELETE", "/sandbox/faults")
    assert again.status_code == 201, again.text
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert (await world.sandbox.stats())["msg_sec_check"] == checks


async def test_an_erased_account_cannot_be_put_on_a_brands_team(world, db, settings):
    """docs/privacy.md: an erased member leaves every brand team at once. Found by review: the owner could then add
    the tombstone back (any users row passed), a nameless `已注销用户` on the team standing as admin everywhere."""
    boss, gone = await world.member("品牌方"), await world.member("离开的人")
    brand = await create_brand(world, boss)
    assert (await world.client.delete("/v1/me", headers=gone.headers)).status_code == 202
    await db.execute("UPDATE account_deletions SET due_at = now() WHERE user_id = $1", gone.id)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        assert await erase_due(pool) == 1
    finally:
        await pool.close()
    response = await world.client.put(f"/v1/brands/{brand['id']}/admins/{gone.id}", headers=boss.headers)
    assert_problem(response, 404, "not_found")
    assert await db.fetchval("SELECT count(*) FROM brand_admins WHERE user_id = $1", gone.id) == 0


async def _lock_waits(db) -> int:
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    return await db.fetchval(query)


async def test_removing_the_heir_while_the_brand_is_handed_to_them_leaves_the_brand_an_owner(world, db, settings):
    """Found by review: the ownership transfer read the heir's role, then changed the roles; a removal of the heir
    sent meanwhile (it took no lock of the brand) committed in between, so the transfer named as owner someone no
    longer on the team and made the old owner an admin: a brand nobody owned, its team, pools and exports shut to
    all. Changes to the team now wait for the brand row's lock, as the transfer holds it."""
    boss, heir = await world.member("品牌方"), await world.member("接班人")
    brand = await create_brand(world, boss)
    url = f"/v1/brands/{brand['id']}"
    assert (await world.client.put(f"{url}/admins/{heir.id}", headers=boss.headers)).status_code == 200
    # Hold the transfer between its reading of the heir's role and its changing of the roles (the old owner's row).
    holder = await asyncpg.connect(settings.database_url)
    held = holder.transaction()
    await held.start()
    await holder.execute(
        "SELECT FROM brand_admins WHERE brand_id = $1 AND user_id = $2 FOR UPDATE", int(brand["id"]), boss.id
    )
    waits = await _lock_waits(db)
    body = {"userId": str(heir.id)}
    handing = asyncio.create_task(world.client.post(f"{url}/ownership-transfer", json=body, headers=boss.headers))
    async with asyncio.timeout(60):  # the transfer waits for the row (seconds on a loaded machine)
        while await _lock_waits(db) <= waits:
            await asyncio.sleep(0.01)
    removing = asyncio.create_task(world.client.delete(f"{url}/admins/{heir.id}", headers=boss.headers))
    async with asyncio.timeout(60):  # the removal waits too (before the fix it ran through)
        while not removing.done() and await _lock_waits(db) <= waits + 1:
            await asyncio.sleep(0.01)
    await held.rollback()
    await holder.close()
    handed, removed = await handing, await removing

    assert handed.status_code == 200, handed.text
    assert_problem(removed, 403, "forbidden")  # the heir owns the brand now: the old owner no longer removes anyone
    rows = await db.fetch("SELECT user_id, role FROM brand_admins WHERE brand_id = $1", int(brand["id"]))
    team = {r["user_id"]: r["role"] for r in rows}
    assert team == {heir.id: "owner", boss.id: "admin"}
    assert await db.fetchval("SELECT owner_id FROM brands WHERE id = $1", int(brand["id"])) == heir.id
    page = await world.client.get(url, headers=heir.headers)
    assert page.status_code == 200, page.text
