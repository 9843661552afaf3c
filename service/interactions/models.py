"""Wire models of interactions, presence, metrics and rewards."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from service.core.media import AvatarLink
from service.core.money.models import Order, Refund
from service.core.paging import NextCursor

ID_PATTERN = r"^[1-9][0-9]{0,15}$(?!\n)"
EVENT_ID_PATTERN = r"^[A-Za-z0-9._:-]+$(?!\n)"
IdString = Annotated[str, msgspec.Meta(pattern=ID_PATTERN, description="A resource id")]
ClientEventId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=EVENT_ID_PATTERN)]


class Camel(msgspec.Struct, rename="camel", kw_only=True):
    pass


class ClientEvent(Camel, frozen=True, gc=False):
    """One client-side event. `id` is unique per member and makes retries idempotent."""

    # gc=False: texts, a time and numbers make no reference cycle; untracked, a batch's hundred events cost the
    # cyclic collector nothing.

    id: ClientEventId
    type: Literal["page_view", "post_view", "share_open"]
    community_id: IdString
    at: datetime
    post_id: IdString | None = None
    page: Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["pages/community/index"])] | None = None
    dwell_ms: Annotated[int, msgspec.Meta(ge=0, le=86_400_000)] | None = None


class EventBatch(Camel, frozen=True):
    events: Annotated[list[ClientEvent], msgspec.Meta(min_length=1, max_length=1000)]

    @staticmethod
    def decode_fast(body: bytes) -> EventBatch | None:
        """What the usual checks and strict decoding of ``body`` give (service/request.py), or None: then they
        run. The strict decoding calls a regular expression per id, three per event, most of its cost; here
        each is applied once: the event id's to all the ids joined (each is non-empty, so the join is of the
        pattern's characters alone exactly when every id is), the resource id's to each distinct community and
        post. A body with no bracket but those of the batch's object, list and events nests 3 levels: not too
        deep; a `4000.0` the usual way reads as 4000 fails here (`dwellMs` is decoded strictly: an integer) and
        one in a field the batch does not know is ignored either way."""
        try:
            events = _DECODE_CHECKED(body).events
        except (msgspec.DecodeError, RecursionError):
            return None
        if body.count(b"{") != len(events) + 1 or body.count(b"[") != 1:
            return None  # more brackets: in texts, or unknown fields
        if not _EVENT_ID.search("".join([event.id for event in events])):
            return None
        numbers = {event.community_id for event in events} | {event.post_id for event in events}
        numbers.discard(None)
        if not all(map(_ID.search, numbers)):
            return None
        return EventBatch(events=events)


class _CheckedClientEvent(ClientEvent, frozen=True, gc=False):
    """A ClientEvent whose ids' patterns EventBatch.decode_fast checks for the whole batch (all else as is)."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    community_id: str
    post_id: str | None = None


class _CheckedEventBatch(Camel, frozen=True):
    events: Annotated[list[_CheckedClientEvent], msgspec.Meta(min_length=1, max_length=1000)]


_DECODE_CHECKED = msgspec.json.Decoder(_CheckedEventBatch, strict=True).decode
_ID, _EVENT_ID = re.compile(ID_PATTERN), re.compile(EVENT_ID_PATTERN)


class RejectedEvent(Camel, frozen=True):
    index: int
    id: str
    code: Literal[
        "unknown_community",
        "unknown_post",
        "post_required",
        "page_required",
        "too_old",
        "in_future",
        "duplicate_in_batch",
    ]
    message: str


class BatchResult(Camel, frozen=True):
    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]


class Heartbeat(Camel, frozen=True):
    community_id: IdString


class PresenceSession(Camel, frozen=True):
    session_id: str
    started_at: datetime
    last_seen_at: datetime
    seconds: float


class MetricValues(Camel, frozen=True):
    speakers: int
    effective_speakers: int
    valid_posts: int
    valid_comments: int
    members_viewing: int
    average_posts_viewed: float
    page_views: int
    effective_page_views: int
    members_online: int
    average_online_seconds: float
    peak_concurrent_users: int
    new_members: int
    activity_score: float


StageName = Literal["gather", "active", "operate", "commercialise"]


class MetricPeriod(Camel, frozen=True):
    start: date
    end: date
    values: MetricValues


class Metrics(Camel, frozen=True):
    community_id: str
    start: date
    end: date
    granularity: Literal["day", "week", "month"]
    time_zone: str
    periods: list[MetricPeriod]
    total: MetricValues
    weights: dict[str, float]
    stage: Annotated[
        StageName,
        msgspec.Meta(description="The community's stage (GET .../stage): the daily one, whatever the window asked"),
    ]
    rolled_up_at: datetime | None


class StageAdvice(Camel, frozen=True):
    action: Annotated[
        Literal["invite", "welcome", "theme_activity", "meetup", "paid_app", "collection", "paid_entry"],
        msgspec.Meta(description="What to do: each names a feature of the app"),
    ]
    text: Annotated[str, msgspec.Meta(description="The advice as admins read it (Chinese)")]


class StageGap(Camel, frozen=True):
    metric: Annotated[str, msgspec.Meta(examples=["effectiveSpeakers"], description="A metric of `totals`")]
    have: int
    need: Annotated[int, msgspec.Meta(description="The least the next stage asks over 30 days")]


class Stage(Camel, frozen=True):
    """The one stage of a community: the daily job's, over the last 30 local days (docs/growth.md)."""

    community_id: str
    stage: StageName
    previous_stage: Annotated[StageName | None, msgspec.Meta(description="The stage it left last")]
    changed_at: Annotated[datetime | None, msgspec.Meta(description="When it entered this stage")]
    computed_at: Annotated[datetime | None, msgspec.Meta(description="The daily job's last run; null: not yet")]
    start: date | None
    end: date | None
    totals: Annotated[MetricValues | None, msgspec.Meta(description="The figures the stage came from")]
    advice: list[StageAdvice]
    next_stage: StageName | None
    missing: Annotated[list[StageGap], msgspec.Meta(description="What the next stage still needs")]


class Contribution(Camel, frozen=True):
    valid_posts: int
    valid_comments: int
    comments_received: int
    likes_received: int
    participation: int
    referrals: Annotated[int, msgspec.Meta(description="Members brought in (invite or share) and still in")] = 0


class LeaderboardEntry(Camel, frozen=True, omit_defaults=True):
    rank: int
    user_id: str
    nickname: str
    avatar_url: AvatarLink
    score: float
    details: Contribution | None = None


class Leaderboard(Camel, frozen=True, omit_defaults=True):
    community_id: str
    start: date
    end: date
    items: list[LeaderboardEntry]
    next_cursor: NextCursor  # no default: sent as null on the last page, as every list's
    weights: dict[str, float] | None = None


# Communities with fewer effective speakers in the window get nothing. A community holds at most 500 members,
# so a larger threshold excludes every community; the bound keeps it within the database's integer.
SpeakerThreshold = Annotated[
    int, msgspec.Meta(ge=0, le=10_000, description="Communities with fewer effective speakers get nothing")
]


class RewardPoolCreate(Camel, frozen=True):
    amount_fen: Annotated[int, msgspec.Meta(ge=1, le=10**12)]
    start: date
    end: date
    community_ids: Annotated[list[IdString], msgspec.Meta(max_length=1000)] | None = None
    min_activity_score: Annotated[float, msgspec.Meta(ge=0)] = 0
    min_effective_speakers: SpeakerThreshold = 0


class MemberAllocation(Camel, frozen=True):
    user_id: str
    contribution: float
    amount_fen: int


class CommunityAllocation(Camel, frozen=True):
    community_id: str
    activity_score: float
    amount_fen: int
    members: list[MemberAllocation]


class RewardPool(Camel, frozen=True):
    id: str
    amount_fen: int
    start: date
    end: date
    status: Literal["draft", "committed"]
    allocated_fen: int
    unallocated_fen: int
    communities: list[CommunityAllocation]


class MyReward(Camel, frozen=True):
    id: str
    pool_id: str
    community_id: str
    amount_fen: int
    status: Literal["owed", "paid"]
    # The merchant transfer paying it (several small rewards may share one): confirm it with GET /v1/transfers/{id}
    # and wx.requestMerchantTransfer. None while it has none (see owedReason).
    transfer_id: str | None
    start: date
    end: date
    created_at: datetime
    owed_reason: Annotated[
        Literal["transfer_open", "transferable", "below_minimum"] | None,
        msgspec.Meta(
            description="Why an owed reward is not paid yet (null once paid). `transfer_open`: its transfer is on its "
            "way or waits for you to confirm it (transferId). `transferable`: its transfer failed or was returned "
            "unconfirmed after 24 hours: ask again with POST /v1/me/rewards/{id}/transfer. `below_minimum`: with "
            "your other owed rewards under 0.1 yuan in this community it is under 0.1 yuan, WeChat's minimum "
            "transfer; they are paid together once they reach it."
        ),
    ] = None


class MyRewards(Camel, frozen=True):
    items: list[MyReward]
    next_cursor: Annotated[str | None, msgspec.Meta(examples=["128"], description="The last reward's id")]


# --- brand-funded reward pools (docs/brands.md) -----------------------------------------------------------------

BrandPoolStatus = Literal["unpaid", "draft", "committed", "cancelled"]


class BrandRewardPoolCreate(Camel, frozen=True, forbid_unknown_fields=True):
    """A pool the brand's owner pays for: split over the brand's communities by activity score over the local
    days `start`..`end`, then over each community's members by contribution."""

    amount_fen: Annotated[int, msgspec.Meta(ge=100, le=10**9, examples=[50000], description="At least 1 yuan")]
    start: date
    end: date
    min_activity_score: Annotated[float, msgspec.Meta(ge=0)] = 0
    min_effective_speakers: SpeakerThreshold = 0


class BrandRewardPool(Camel, frozen=True):
    """`unpaid` until the payment arrives (`order` carries the wx.requestPayment data), `draft` once paid (the
    allocation shown is a preview), `committed` (the recorded allocation, paid out by transfers), `cancelled`
    (called off before commit; refunded in full when it was paid: `refund`)."""

    id: str
    brand_id: str
    amount_fen: int
    start: date
    end: date
    status: BrandPoolStatus
    allocated_fen: int
    unallocated_fen: int
    communities: list[CommunityAllocation]
    created_at: datetime
    order_id: str | None = None
    paid_at: datetime | None = None
    committed_at: datetime | None = None
    cancelled_at: datetime | None = None
    order: Order | None = None
    refund: Refund | None = None
