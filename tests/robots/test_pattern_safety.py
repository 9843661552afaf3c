"""Regex rules cannot cost the API process: a pattern whose counted repeats would compile to a huge program is
refused before it is compiled, and a pattern that backtracks catastrophically on Chinese or mixed text is refused
like one that does on ASCII. (Patterns that would really take seconds to compile are only parsed here, never
compiled: the mild ones stand in for them.)"""

from __future__ import annotations

import asyncio
import time

import pytest

from service.robots import matching
from tests.robots.test_rules import add_rule, robot_comments

# Backtracks exponentially on alternating text: every post below spends each such rule's whole timeout, on any
# machine (2^100 ways to split "xyxy…"). Refused at creation now, it stands for a rule stored before the probes
# caught it.
SLOW = r"^(?:x|xy|y)*z"
SLOW_TEXT = "xy" * 100 + "!z"


async def test_a_pattern_whose_counted_repeats_multiply_past_the_limit_is_refused_before_compiling(world, db):
    """Nested counted repeats expand when compiled: 24 characters, `(?:(?:a{100}){100}){100}`, compile to a
    million-step program (~0.5 s and ~250 MB), `(?:(?:a{1000}){1000}){10}` took 5.9 s and 2.9 GB. The rule is
    refused (400 validation_failed on the keyword, in Chinese for the member) by reading the pattern only."""
    alice = await world.member("alice")
    cid = await world.community(alice)
    huge = await add_rule(world, alice, cid, 400, keyword=r"(?:(?:a{100}){100}){100}", matchMode="regex", reply="欢迎")
    assert huge["code"] == "validation_failed" and huge["errors"][0]["field"] == "keyword"
    assert "repeats too much" in huge["errors"][0]["message"]
    assert huge["userMessage"] == "填写的内容有误，请检查标出的项目。"
    # A pattern that would take seconds (or never finish) to compile is refused in well under a second.
    for pattern in (r"(?:(?:a{1000}){1000}){10}", r"(?:\w{65535}){65535}"):
        with pytest.raises(matching.PatternError, match="repeats too much"):
            matching.validate_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        r"a{1001}",  # one bound
        r"a{,1001}",
        r"a{1001,}",  # an open bound counts its minimum
        r"(?:a{40}){40}?",  # lazy
        r"(?:a{40}+){40}",  # possessive
        r"(?:(?:a{2}){30}){30}",
        r"(?:a{40}|b){40}",  # in an alternative
        r"(?=(?:a{40}){40})",  # in a look-ahead
        r"(?i:(?:a{40}){40})",  # in a scoped flag group
        r"[{1]\{(?:a{40}){40}",  # after a class and an escape holding braces
        r"(?:a{40}(?#[)){40}",  # a comment holding a class opener
        "(?x)(?:a{4 0}) {4 0}",  # verbose: spaces inside and before the braces
        "(?x)(?:a{40}#[\n){40}",  # verbose: a comment holding a class opener
    ],
)
def test_every_form_of_counted_repeat_counts(pattern):
    """The pattern is read by the regex package's own parser, so no form of writing a repeat escapes the count
    (products of 1,600 here: cheap to compile, should the check ever miss one)."""
    with pytest.raises(matching.PatternError, match="repeats too much"):
        matching.validate_pattern(pattern)


@pytest.mark.parametrize(
    "pattern", [r"^\d{11}$", r"\d{4}-\d{2}-\d{2}", r".{0,50}价格.{0,50}", r"(?:\p{Han}{10}){100}", r"\{1000\}{2}"]
)
def test_ordinary_counted_repeats_are_accepted(pattern):
    """Repeats in sequence do not multiply, nor do braces that are no repeat; a product of 1,000 is allowed."""
    matching.validate_pattern(pattern)


def test_a_stored_rule_that_repeats_too_much_is_not_compiled_when_matching():
    """A rule stored before the check counts as no match, and is not compiled on the event loop."""
    assert matching.match_rules([("regex", r"(?:(?:a{100}){100}){100}")], "a" * 100) == [False]


async def test_a_pattern_catastrophic_on_chinese_text_is_refused(world, db):
    """At creation the pattern is tried against inputs that make catastrophic patterns explode, Chinese among
    them (runs of Han characters, Chinese punctuation, mixed text): a Han class written as \\p{Han} names no
    character to probe with, and would otherwise cost every Chinese post the full timeout per rule."""
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    pattern = r"(\p{Han}|\p{Han}\p{Han})+$"
    # The pattern really is catastrophic on an ordinary Chinese sentence that ends with punctuation:
    sentence = "今天早上我们一起去江边跑步了感觉非常好真开心明天还要继续加油。"
    with pytest.raises(TimeoutError):
        matching.compile_pattern(pattern).search(sentence, timeout=0.5)
    slow = await add_rule(world, alice, cid, 400, keyword=pattern, matchMode="regex", reply="欢迎")
    assert slow["code"] == "validation_failed" and "catastrophic" in slow["errors"][0]["message"]
    for pattern in (r"(，|，，)+$", r"([\u4e00-\u9fff]+，?)+$"):  # Chinese punctuation, mixed text
        with pytest.raises(matching.PatternError, match="catastrophic"):
            matching.validate_pattern(pattern)
    price = r"(多少钱|价格)\p{Han}{0,10}[？?]"
    chinese = await add_rule(world, alice, cid, keyword=price, matchMode="regex", reply="欢迎")
    assert chinese["matchMode"] == "regex"


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (SLOW, SLOW_TEXT),
        (r"(a|ab|b)+$", "拼单 " + "ab" * 40 + "！"),
        (r"(?:\d|\d\d|-)+#", "报名日期 " + "2024-06-01-" * 10 + "！#活动"),
        (r"(\p{Han}|\p{Han}\p{Han})+签到", "今天早上我们一起去江边跑步了感觉非常好真开心明天还要继续加油。明天签到"),
    ],
    ids=["xy", "ab", "digits", "han"],
)
async def test_a_pattern_whose_alternatives_overlap_on_mixed_text_is_refused(world, db, pattern, text):
    """Runs of one character give such a pattern one way to split them; runs alternating between two (xyxy…)
    give it exponentially many. And the `regex` package gives up at once on a text that lacks a literal the
    pattern requires (the z, the #, 签到), so the probes carry it after the break: each pattern here passed the
    probes of a single character and spent its whole timeout on an ordinary-looking post."""
    alice = await world.member("alice")
    cid = await world.community(alice)
    with pytest.raises(TimeoutError):  # really slow on the text
        matching.compile_pattern(pattern).search(text, timeout=0.1)
    slow = await add_rule(world, alice, cid, 400, keyword=pattern, matchMode="regex", reply="欢迎")
    assert slow["code"] == "validation_failed" and slow["errors"][0]["field"] == "keyword"
    assert "catastrophic" in slow["errors"][0]["message"]


ORDINARY = [
    "多少钱|价格",
    r"(多少钱|价格)\p{Han}{0,10}[？?]",
    r"^(报名|签到)\d{0,3}$",
    "优惠券?",
    "[？?]",
    r"^\d{11}$",
    r"\d{4}-\d{2}-\d{2}",
    r".{0,50}价格.{0,50}",
    r"(?:\p{Han}{10}){100}",
    r"\{1000\}{2}",
    r"xy!z$",
]


async def test_ordinary_patterns_pass_the_probes(world, db):
    """The probes refuse what backtracks explosively, not what an admin ordinarily writes."""
    alice = await world.member("alice")
    cid = await world.community(alice)
    for pattern in ORDINARY:
        rule = await add_rule(world, alice, cid, keyword=pattern, matchMode="regex", reply="欢迎")
        assert rule["keyword"] == pattern


async def test_a_pattern_with_clashing_flags_is_refused_as_invalid(world, db):
    """`(?V1)` (the robot reads patterns as version 0) or `(?a)(?u)` make the `regex` package raise ValueError, not
    regex.error: the rule is refused like any invalid pattern (400 on the keyword), never a 500."""
    alice = await world.member("alice")
    cid = await world.community(alice)
    for pattern in ("(?V1)价格", "(?a)(?u)价格", "(?i:(?V1)a)"):
        bad = await add_rule(world, alice, cid, 400, keyword=pattern, matchMode="regex", reply="欢迎")
        assert bad["code"] == "validation_failed" and bad["errors"][0]["field"] == "keyword", pattern
        assert "not a valid pattern" in bad["errors"][0]["message"]
    assert matching.match_rules([("regex", "(?V1)价格")], "价格") == [False]  # a stored one is no match, not an error


async def test_a_strangers_pattern_is_refused_before_it_is_tried(world, db):
    """Trying a pattern on the probes costs CPU: whoever may not add rules is refused first, whatever they send."""
    alice, bob, erin = await world.member("alice"), await world.member("bob"), await world.member("erin")
    cid = await world.community(alice, bob)
    slow = r"(\p{Han}|\p{Han}\p{Han})+$"
    member = await add_rule(world, bob, cid, 403, keyword=slow, matchMode="regex", reply="欢迎")
    stranger = await add_rule(world, erin, cid, 403, keyword=slow, matchMode="regex", reply="欢迎")
    assert (member["code"], stranger["code"]) == ("forbidden", "not_member")


async def slow_rules(db, admin, cid: str, count: int) -> None:
    """Rules stored before the probes refused such a pattern: written to the table as they were then."""
    await db.executemany(
        "INSERT INTO robot_rules (community_id, keyword, match_mode, reply, created_by)"
        " VALUES ($1, $2, 'regex', '慢', $3)",
        [(int(cid), SLOW, admin.id)] * count,
    )


async def test_a_texts_regex_rules_share_one_time_budget(world, db):
    """Each regex rule has 20 ms, and 50 rules are allowed: one post could cost a second of matching. The regex
    rules share one budget per text instead (MATCH_BUDGET): once it is spent, the rest count as no match, while
    exact and contains rules (cheap) are always tried."""
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    with pytest.raises(TimeoutError):  # really slow
        matching.compile_pattern(SLOW).search(SLOW_TEXT, timeout=0.1)
    slow = int(matching.MATCH_BUDGET / matching.MATCH_TIMEOUT) + 5  # more than the budget holds
    await slow_rules(db, alice, cid, slow)
    await add_rule(world, alice, cid, keyword=r"xy!z$", matchMode="regex", reply="正则")  # fast, but past the budget
    await add_rule(world, alice, cid, keyword="xy!z", matchMode="contains", reply="包含")
    post = await world.post(bob, cid, SLOW_TEXT)
    assert await robot_comments(db, post["id"]) == [("包含", None, None)]
    plain = await world.post(bob, cid, "xy!z")  # no budget spent: the regex rule answers
    assert await robot_comments(db, plain["id"]) == [("正则", None, None)]


async def test_regex_matching_leaves_the_event_loop_free(world, db):
    """The matching runs in a worker thread that releases the GIL (the `regex` package's concurrent=True): the
    process serves other requests meanwhile. The app serves this test's requests from this event loop, so a
    stall of the loop shows as a late tick; on the loop the rules below would stall it for the whole budget
    (MATCH_BUDGET, and 45 × 20 ms before there was one)."""
    alice, bob = await world.member("alice"), await world.member("bob")
    cid = await world.community(alice, bob)
    await slow_rules(db, alice, cid, 45)
    stalls: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.002)
            now = time.monotonic()
            stalls.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        post = await world.post(bob, cid, SLOW_TEXT)
        served = await world.client.get(f"/v1/communities/{cid}", headers=alice.headers)
    finally:
        ticker.cancel()
    assert served.status_code == 200 and await robot_comments(db, post["id"]) == []
    assert max(stalls) < matching.MATCH_BUDGET, max(stalls)
