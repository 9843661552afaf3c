"""Answers shown as examples in the OpenAPI document, built from the real models so they cannot drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.core.media import EXAMPLE_IMAGE
from service.openapi import example  # noqa: F401 - the routes' ex.example
from service.polls import draw
from service.polls import models as m

_CREATED = datetime(2025, 5, 20, 2, 0, tzinfo=UTC)
_VOTING = datetime(2025, 5, 27, 12, 0, tzinfo=UTC)
_CLOSED = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
_SEED = "5f1d3c0be7a94e2b8c6d0a1f3e5b7c9d2a4f6e8b0c1d3e5f7a9b1c3d5e7f9a0b"

REWARDS = m.RewardRules(
    winning_proposer=True, top_proposers=2, drawn_voters=5, claim_days=14, product="冷萃咖啡 6 瓶装"
)

POLL = m.Poll(
    id="301",
    community_id="42",
    created_by="7",
    title="新款冷萃咖啡",
    description="低糖、冷萃 12 小时的瓶装咖啡，夏天上市。帮它起个名字吧！",
    images=[EXAMPLE_IMAGE],
    image_urls=[],
    status="voting",
    accepting_proposals=False,
    accepting_votes=True,
    proposals_close_at=_VOTING,
    voting_close_at=_CLOSED,
    voting_opened_at=_VOTING,
    closed_at=None,
    votes_per_member=3,
    proposals_per_member=3,
    allow_vote_changes=True,
    anonymous_proposals=True,
    rewards=REWARDS,
    trial_points=m.TrialPoints(price=30, places=10, places_left=10, redeemable_until=None),
    seed_commitment=draw.commitment(_SEED),
    proposal_count=18,
    announcement_post_id="9100",
    result_post_id=None,
    created_at=_CREATED,
    me=m.PollMe(
        role="member",
        proposals_used=1,
        proposals_left=2,
        votes_used=2,
        votes_left=1,
        voted_proposal_ids=["5002", "5007"],
    ),
)

POLL_CREATE = m.PollCreate(
    title="新款冷萃咖啡",
    description="低糖、冷萃 12 小时的瓶装咖啡，夏天上市。帮它起个名字吧！",
    image_ids=[EXAMPLE_IMAGE.id],
    proposals_close_at=_VOTING,
    voting_close_at=_CLOSED,
    rewards=REWARDS,
)

POLL_ADVANCE = m.PollAdvance(from_status="proposing")

PROPOSAL = m.Proposal(
    id="5002",
    poll_id="301",
    name="晨光冷萃",
    proposer_id=None,
    status="visible",
    merged_into_id=None,
    mine=False,
    voted_by_me=True,
    votes=None,
    rank=None,
    created_at=_CREATED + timedelta(hours=3),
)

VOTE = m.Vote(id="88001", poll_id="301", proposal_id="5002", created_at=_VOTING + timedelta(hours=1), votes_left=2)

_RANKING = [
    m.RankedProposal(
        rank=1,
        proposal_id="5002",
        name="晨光冷萃",
        proposer_id="1001",
        proposer_nickname="小林",
        votes=57,
        created_at=_CREATED + timedelta(hours=3),
    ),
    m.RankedProposal(
        rank=2,
        proposal_id="5007",
        name="山泉慢萃",
        proposer_id="1002",
        proposer_nickname="阿杰",
        votes=57,
        created_at=_CREATED + timedelta(hours=5),
    ),
]

RESULTS = m.Results(
    poll_id="301",
    closed_at=_CLOSED,
    total_votes=114,
    voter_count=61,
    tie_break_rule=m.TIE_BREAK_RULE,
    winner=_RANKING[0],
    ranking=_RANKING,
    draw=m.Draw(
        algorithm=draw.ALGORITHM,
        poll_id="301",
        seed=_SEED,
        seed_commitment=draw.commitment(_SEED),
        eligible_user_ids=["1003", "1004", "1005"],
        count=1,
        winner_user_ids=["1004"],
    ),
    qualifications=[
        m.Qualification(user_id="1001", nickname="小林", reason="winner", position=1),
        m.Qualification(user_id="1002", nickname="阿杰", reason="top_proposer", position=2),
        m.Qualification(user_id="1004", nickname="小雨", reason="drawn_voter", position=1),
    ],
)

TRIAL = m.Trial(
    id="7001",
    poll_id="301",
    poll_title="新款冷萃咖啡",
    community_id="42",
    product="冷萃咖啡 6 瓶装",
    user_id="1004",
    reason="drawn_voter",
    position=1,
    status="claimed",
    granted_at=_CLOSED,
    expires_at=_CLOSED + timedelta(days=14),
    claimed_at=_CLOSED + timedelta(days=1),
    delivery_note="上海市徐汇区某路 1 号 张三 138****0000",
    shipped_at=None,
    shipping_note=None,
    voided_at=None,
    void_reason=None,
    feedback_id=None,
)

FEEDBACK = m.Feedback(
    id="801",
    trial_id="7001",
    poll_id="301",
    user_id="1004",
    nickname="小雨",
    rating=4,
    text="口感顺滑，甜度刚好，瓶子再小一点更好带。",
    images=[EXAMPLE_IMAGE],
    image_urls=[],
    content_status="pass",
    post_id=None,
    created_at=_CLOSED + timedelta(days=6),
)

FEEDBACK_PAGE = m.FeedbackPage(items=[FEEDBACK], next_cursor=None, count=12, average_rating=4.25)

SHARED = m.SharedPost(
    post_id="9188",
    community_id="42",
    kind="feedback",
    status="visible",
    text="★★★★☆ 试用「冷萃咖啡 6 瓶装」：口感顺滑，甜度刚好，瓶子再小一点更好带。",
    images=[EXAMPLE_IMAGE],
    image_urls=[],
    created_at=_CLOSED + timedelta(days=6),
)

TRIAL_POINTS = m.TrialPointsOffer(price=30, places=10)
OFFERED = m.TrialPoints(price=30, places=10, places_left=7, redeemable_until=_CLOSED + timedelta(days=14))

REDEEMED = m.Trial(
    id="7012",
    poll_id="301",
    poll_title="新款冷萃咖啡",
    community_id="42",
    product="冷萃咖啡 6 瓶装",
    user_id="1009",
    reason="redeemed",
    position=3,
    status="granted",
    granted_at=_CLOSED + timedelta(hours=5),
    expires_at=_CLOSED + timedelta(days=14, hours=5),
    claimed_at=None,
    delivery_note=None,
    shipped_at=None,
    shipping_note=None,
    voided_at=None,
    void_reason=None,
    feedback_id=None,
)

POINTS = m.PointsBalance(brand_id="7", spendable=True, earned=120, spent=90, available=30)
