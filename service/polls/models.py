"""Requests and responses of naming polls and free trials (camelCase on the wire, ids as strings)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta

from service.core.media import IMAGE_URLS_REMOVED, IMAGES_MAX, EarlierImageUrls, Image, ImageIds
from service.core.paging import NextCursor

PollStatus = Literal["proposing", "voting", "closed"]
ProposalStatus = Literal["visible", "pending", "hidden", "merged"]
TrialReason = Literal["winner", "top_proposer", "drawn_voter", "redeemed"]
TrialStatus = Literal["granted", "claimed", "shipped", "expired", "void"]
VoidReason = Literal["account_erased"]
ContentStatus = Literal["pass", "review"]

NAME_MAX = 30
VOTES_PER_MEMBER_MAX = 20
PROPOSALS_PER_MEMBER_MAX = 10
TIE_BREAK_RULE = "more votes first; on equal votes the earlier proposal (its creation time), then the lower proposal id"
SeedCommitment = Annotated[
    str,
    Meta(
        examples=["3ac8cb2e84c9a6faf6f3599a8875904299e784dba46383a67a295281c9dabaa1"],
        description="SHA-256 of the voter draw's seed (hex), published when the poll is created",
    ),
]

Title = Annotated[str, Meta(min_length=1, max_length=40, examples=["新款冷萃咖啡"], description="1-40 characters")]
Description = Annotated[
    str, Meta(max_length=2000, examples=["低糖、冷萃 12 小时的瓶装咖啡，夏天上市。帮它起个名字吧！"])
]
Deadline = Annotated[datetime, Meta(tz=True, examples=["2025-06-01T12:00:00Z"])]
IdString = Annotated[str, Meta(pattern=r"^[1-9][0-9]{0,15}$(?!\n)", examples=["301"], description="An id")]
ProposalName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=NAME_MAX,
        examples=["晨光冷萃"],
        description=f"1-{NAME_MAX} characters; duplicates are found ignoring case, width, spaces and punctuation",
    ),
]
Rating = Annotated[int, Meta(ge=1, le=5, examples=[4], description="1 (poor) to 5 (excellent)")]


class RewardRules(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Who qualifies for a free trial when the poll closes (docs/polls.md). Each rule adds people."""

    winning_proposer: bool = msgspec.field(default=True)
    top_proposers: Annotated[
        int, Meta(ge=0, le=50, description="The next K distinct proposers down the ranking (after the winner)")
    ] = 0
    drawn_voters: Annotated[int, Meta(ge=0, le=500, description="M voters drawn at random (verifiable)")] = 0
    claim_days: Annotated[int, Meta(ge=1, le=90, description="Days a qualification can be claimed")] = 14
    product: Annotated[str, Meta(max_length=100, examples=["冷萃咖啡 6 瓶装"])] = ""


class TrialPointsOffer(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Trial places for check-in points (docs/polls.md)."""

    price: Annotated[int, Meta(ge=1, le=100_000, examples=[30])]
    places: Annotated[int, Meta(ge=1, le=500, examples=[10])]


class TrialPoints(msgspec.Struct, rename="camel", kw_only=True):
    price: int
    places: int
    places_left: Annotated[int, Meta(examples=[7])]
    redeemable_until: Annotated[datetime | None, Meta(description="closedAt + claimDays")]


class PollCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    removed_fields: ClassVar[dict[str, str]] = IMAGE_URLS_REMOVED

    title: Title
    description: Description = ""
    image_ids: Annotated[
        ImageIds,
        Meta(
            description=f"The product's pictures: up to {IMAGES_MAX} of my uploads (purpose `post`), in order. "
            "Members see each once WeChat's image check approved it; the poll's admins see them all at once."
        ),
    ] = []
    proposals_close_at: Annotated[Deadline, Meta(description="End of the proposal phase; voting opens then")]
    voting_close_at: Annotated[Deadline, Meta(description="End of voting: the poll closes and results are final")]
    votes_per_member: Annotated[int, Meta(ge=1, le=VOTES_PER_MEMBER_MAX, description="N votes per member")] = 3
    proposals_per_member: Annotated[int, Meta(ge=1, le=PROPOSALS_PER_MEMBER_MAX)] = 3
    allow_vote_changes: bool = True
    anonymous_proposals: Annotated[bool, Meta(description="Hide who proposed what until the poll closes")] = True
    rewards: RewardRules = msgspec.field(default_factory=RewardRules)
    trial_points: TrialPointsOffer | None = None


class PollMe(msgspec.Struct, rename="camel", kw_only=True):
    """The caller's standing in the poll."""

    role: Literal["owner", "admin", "member"]
    proposals_used: int
    proposals_left: int
    votes_used: int
    votes_left: int
    voted_proposal_ids: list[str]


class Poll(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    community_id: str
    created_by: Annotated[str, Meta(examples=["7"])]
    title: str
    description: str
    images: Annotated[
        list[Image],
        Meta(
            description="The product's pictures, URLs signed for this answer: those WeChat approved for members, all "
            "of them for the poll's admins"
        ),
    ]
    image_urls: EarlierImageUrls
    status: PollStatus
    accepting_proposals: bool
    accepting_votes: bool
    proposals_close_at: datetime
    voting_close_at: datetime
    voting_opened_at: datetime | None
    closed_at: datetime | None
    votes_per_member: int
    proposals_per_member: int
    allow_vote_changes: bool
    anonymous_proposals: bool
    rewards: RewardRules
    trial_points: TrialPoints | None = None
    seed_commitment: SeedCommitment
    proposal_count: int
    announcement_post_id: str | None
    result_post_id: str | None
    created_at: datetime
    me: PollMe | None = None


class PollAdvance(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    from_status: Annotated[
        Literal["proposing", "voting"] | None,
        Meta(
            description="The phase the admin means to leave (the `status` they see): when the poll is no longer in it "
            "(another admin or a deadline moved it on), nothing changes and the answer is `poll_phase_changed`"
        ),
    ] = None


class PollPage(msgspec.Struct, rename="camel"):
    items: list[Poll]
    next_cursor: NextCursor


class ProposalCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    name: ProposalName


class Proposal(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    poll_id: str
    name: str
    proposer_id: str | None  # null while the poll is anonymous (except for admins and the proposer)
    status: ProposalStatus
    merged_into_id: str | None
    mine: bool
    voted_by_me: bool
    votes: int | None  # known once the poll is closed
    rank: int | None
    created_at: datetime


class ProposalPage(msgspec.Struct, rename="camel"):
    items: list[Proposal]
    next_cursor: NextCursor


class ProposalModeration(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    status: Annotated[
        Literal["visible", "hidden"], Meta(description="visible: approve a pending or restore a hidden proposal")
    ]
    reason: Annotated[str, Meta(max_length=200)] = ""


class ProposalMerge(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    into_proposal_id: IdString


class VoteCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    proposal_id: IdString


class VoteSet(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    proposal_ids: Annotated[
        list[IdString], Meta(max_length=VOTES_PER_MEMBER_MAX, description="All proposals I vote for, replacing")
    ]


class Vote(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    poll_id: str
    proposal_id: str
    created_at: datetime
    votes_left: int


class MyVotes(msgspec.Struct, rename="camel", kw_only=True):
    voted_proposal_ids: list[str]
    votes_used: int
    votes_left: int


class RankedProposal(msgspec.Struct, rename="camel", kw_only=True):
    rank: int
    proposal_id: str
    name: str
    proposer_id: str
    proposer_nickname: Annotated[str, Meta(examples=["小林"])]
    votes: int
    created_at: datetime


class Draw(msgspec.Struct, rename="camel", kw_only=True):
    """Everything needed to redo the voter draw (docs/polls.md)."""

    algorithm: Annotated[str, Meta(examples=["hmac-sha256-rank-v1"])]
    poll_id: str
    seed: Annotated[str, Meta(examples=["5f1d3c0be7a94e2b8c6d0a1f3e5b7c9d2a4f6e8b0c1d3e5f7a9b1c3d5e7f9a0b"])]
    seed_commitment: SeedCommitment
    eligible_user_ids: list[str]
    count: int
    winner_user_ids: list[str]


class Qualification(msgspec.Struct, rename="camel", kw_only=True):
    user_id: str
    nickname: str
    reason: TrialReason
    position: int


class Results(msgspec.Struct, rename="camel", kw_only=True):
    poll_id: str
    closed_at: datetime
    total_votes: int
    voter_count: int
    tie_break_rule: Annotated[str, Meta(examples=[TIE_BREAK_RULE])]
    winner: RankedProposal | None
    ranking: list[RankedProposal]
    draw: Draw
    qualifications: list[Qualification]


class PollAuditEntry(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    action: Annotated[str, Meta(examples=["vote.cast"])]
    actor_id: str | None
    proposal_id: str | None
    vote_id: str | None
    subject_id: str | None
    details: dict
    created_at: datetime


class PollAuditPage(msgspec.Struct, rename="camel"):
    items: list[PollAuditEntry]
    next_cursor: NextCursor


# --- free trials -----------------------------------------------------------------------------------------


class Trial(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    poll_id: str
    poll_title: Annotated[str, Meta(examples=["新款冷萃咖啡"])]
    community_id: str
    product: Annotated[str, Meta(examples=["冷萃咖啡 6 瓶装"])]
    user_id: str
    reason: TrialReason
    position: int
    status: TrialStatus
    granted_at: datetime
    expires_at: datetime
    claimed_at: datetime | None
    delivery_note: Annotated[str | None, Meta(examples=["上海市徐汇区某路 1 号 张三 138****0000"])]
    shipped_at: datetime | None
    shipping_note: Annotated[str | None, Meta(examples=["顺丰 SF1234567890"])]
    voided_at: datetime | None
    void_reason: Annotated[
        VoidReason | None,
        Meta(
            description="Why a `void` trial ended: `account_erased`, its holder's account was erased before it shipped"
        ),
    ]
    feedback_id: str | None


class TrialPage(msgspec.Struct, rename="camel"):
    items: list[Trial]
    next_cursor: NextCursor


class TrialClaim(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    delivery_note: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=500,
            examples=["上海市徐汇区某路 1 号 张三 138****0000"],
            description="Where and to whom to deliver; only you and the community's admins see it",
        ),
    ]


class TrialShipment(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    shipping_note: Annotated[str, Meta(max_length=200, examples=["顺丰 SF1234567890"])] = ""


class FeedbackCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    removed_fields: ClassVar[dict[str, str]] = IMAGE_URLS_REMOVED

    rating: Rating
    text: Annotated[str, Meta(max_length=1000, examples=["口感顺滑，甜度刚好，瓶子再小一点更好带。"])] = ""
    image_ids: ImageIds = []


class Feedback(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    trial_id: str
    poll_id: str
    user_id: str
    nickname: str
    rating: int
    text: str
    images: Annotated[
        list[Image], Meta(description="Its photos: all of them for their author, the approved ones for admins")
    ]
    image_urls: EarlierImageUrls
    content_status: ContentStatus
    post_id: str | None
    created_at: datetime


class FeedbackPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[Feedback]
    next_cursor: NextCursor
    count: int
    average_rating: float | None


class SharedPost(msgspec.Struct, rename="camel", kw_only=True):
    post_id: str
    community_id: str
    kind: Literal["feedback"]
    status: Annotated[
        str,
        Meta(
            examples=["visible"],
            description="visible; pending while WeChat reviews the text or checks a photo; rejected: a photo refused",
        ),
    ]
    text: str
    images: list[Image]
    image_urls: EarlierImageUrls
    created_at: datetime


class PointsBalance(msgspec.Struct, rename="camel", kw_only=True):
    brand_id: str
    spendable: bool
    earned: int
    spent: int
    available: int
