"""Texts hidden by people (reports, moderators) are skipped by the extraction, not waited for as WeChat's review
is: reporting posts or comments cannot stop the reading of later texts (docs/interests.md)."""

from __future__ import annotations

import pytest

from service.settings import Settings
from tests.interests.conftest import run, tags
from tests.support import make_settings
from tests.wechat_support import Sandbox


@pytest.fixture
def settings(database_url: str, sandbox: Sandbox) -> Settings:
    return make_settings(database_url, wechat_api_base=sandbox.url, newcomer_hours=0, report_hide_threshold=2)


async def _report(world, kind: str, target_id: str, *reporters) -> None:
    for reporter in reporters:
        body = {"targetKind": kind, "targetId": target_id, "reason": "spam"}
        response = await world.client.post("/v1/reports", json=body, headers=reporter.headers)
        assert response.status_code == 201, response.text


async def test_a_post_hidden_by_reports_is_skipped_and_later_posts_are_read(world, jobs, db):
    """A post hidden by reports is `pending` like one held for WeChat's review, but no verdict is due: the reading
    skips it at once (its words are not counted) and goes on to later posts, in any community."""
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)
    spam = await world.post(bob, cid, "加我微信领优惠券，冲浪装备打折")
    await _report(world, "post", spam["id"], carol, dave)
    hidden = await db.fetchrow("SELECT status, hidden_at FROM posts WHERE id = $1", int(spam["id"]))
    assert hidden["status"] == "pending" and hidden["hidden_at"] is not None  # hidden by the reports

    other = await world.community(carol)  # another community altogether
    later = await world.post(carol, other, "周末一起去爬山，爬山真开心")
    await run(jobs, "interests.extract")
    assert "爬山" in await tags(world, carol, other)
    assert await tags(world, bob, cid) == []  # skipped, not counted
    assert await db.fetchval("SELECT last_id FROM interest_progress WHERE source = 'posts'") == int(later["id"])


async def test_a_comment_hidden_by_reports_is_skipped_and_one_held_for_wechat_waits(world, jobs, db):
    """A hidden comment has no marker of its own: it was visible, hence counted (`counted_at`), which one held for
    WeChat's review never was. The hidden one is skipped; the held one still stops the reading."""
    alice, bob, carol, dave = [await world.member(name) for name in ("alice", "bob", "carol", "dave")]
    cid = await world.community(alice, bob, carol, dave)
    post = await world.post(alice, cid, "今天天气不错")
    spam = await world.comment(bob, post["id"], "加我微信领优惠券，冲浪装备打折")
    await _report(world, "comment", spam["id"], carol, dave)
    hidden = await db.fetchrow("SELECT status, counted_at FROM comments WHERE id = $1", int(spam["id"]))
    assert hidden["status"] == "pending" and hidden["counted_at"] is not None  # hidden by the reports

    later = await world.comment(carol, post["id"], "周末一起去爬山，爬山真开心")
    await run(jobs, "interests.extract")
    assert "爬山" in await tags(world, carol, cid)
    assert await tags(world, bob, cid) == []
    assert await db.fetchval("SELECT last_id FROM interest_progress WHERE source = 'comments'") == int(later["id"])

    held = await db.fetchval(
        "INSERT INTO comments (community_id, post_id, author_id, text, status) "
        "VALUES ($1, $2, $3, '我爱潜水', 'pending') RETURNING id",
        int(cid),
        int(post["id"]),
        dave.id,
    )
    await world.comment(carol, post["id"], "我也喜欢徒步")
    await run(jobs, "interests.extract")
    assert await db.fetchval("SELECT last_id FROM interest_progress WHERE source = 'comments'") == held - 1
