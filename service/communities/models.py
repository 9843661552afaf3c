"""Requests and responses of the communities domain (camelCase on the wire, ids as strings)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from service.core.media import (
    IMAGE_URLS_REMOVED,
    AvatarLink,
    CoverLink,
    EarlierImageUrls,
    Image,
    ImageIds,
    MediaId,
    url_removed,
)
from service.core.money.models import Order
from service.core.paging import NextCursor

MEMBER_CAP_DEFAULT = 100
# The documented hard maximum (also a CHECK in the migration); WeChat groups stop at 500 members too.
MEMBER_CAP_MAX = 500
PRICE_MAX_FEN = 1_000_000
REFUND_WINDOW_DEFAULT_HOURS = 72  # as paid-circle products do
REFUND_WINDOW_MAX_HOURS = 720
WELCOME_PLACEHOLDERS = ("nickname", "community")
DEFAULT_WELCOME = "欢迎 {nickname} 加入「{community}」！请做个自我介绍，让大家认识你吧。"
DEFAULT_INTRODUCTION_PROMPT = "介绍一下你自己：怎么称呼、在哪个城市、喜欢什么。"

EntryMode = Literal["free", "approval", "paid"]
Visibility = Literal["listed", "unlisted"]
Role = Literal["owner", "admin", "member"]
MembershipStatus = Literal["active", "left", "removed"]
RequestStatus = Literal["pending", "approved", "rejected", "cancelled"]

NAME_MAX = 40  # characters of a community's name (the communities table checks it too)
Name = Annotated[
    str, Meta(min_length=1, max_length=NAME_MAX, examples=["城市跑团"], description=f"1-{NAME_MAX} characters")
]
Description = Annotated[str, Meta(max_length=1000, examples=["每周六早上一起跑 10 公里"])]
_COVER_MEDIA = (
    "One of my uploads (purpose `cover`): `coverUrl` becomes its public link, which shows it once WeChat approved it"
)
CoverMediaId = Annotated[MediaId, Meta(description=_COVER_MEDIA)]
NewCoverMediaId = Annotated[MediaId, Meta(description=f"{_COVER_MEDIA}; null removes the cover")]
COVER_URL_REMOVED = url_removed("coverUrl", "cover", "coverMediaId")
Tag = Annotated[str, Meta(min_length=1, max_length=16)]
Tags = Annotated[list[Tag], Meta(max_length=5, examples=[["跑步", "健康"]], description="Up to 5 tags")]
PriceFen = Annotated[int, Meta(ge=1, le=PRICE_MAX_FEN, examples=[990], description="Entry price in fen (paid only)")]
MemberCap = Annotated[
    int,
    Meta(ge=1, le=MEMBER_CAP_MAX, examples=[100], description=f"Member cap, at most {MEMBER_CAP_MAX}"),
]
WelcomeTemplate = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=500,
        examples=[DEFAULT_WELCOME],
        description="Greeting the welcome robot posts; placeholders {nickname} and {community}",
    ),
]
IntroductionPrompt = Annotated[str, Meta(max_length=200, examples=[DEFAULT_INTRODUCTION_PROMPT])]
RefundWindowHours = Annotated[
    int,
    Meta(
        ge=0,
        le=REFUND_WINDOW_MAX_HOURS,
        examples=[REFUND_WINDOW_DEFAULT_HOURS],
        description="Paid entry: hours after paying during which a member may ask for the fee back and leave "
        "(0: no refunds by members). The window in force at payment time applies to each payment.",
    ),
]
CollectionsBy = Literal["members", "admins"]
IdString = Annotated[str, Meta(pattern=r"^[1-9][0-9]{0,15}$(?!\n)", examples=["42"], description="An id")]


class CommunityCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    removed_fields: ClassVar[dict[str, str]] = COVER_URL_REMOVED

    name: Name
    description: Description = ""
    cover_media_id: CoverMediaId | None = None
    tags: Tags = []
    visibility: Visibility = "listed"
    entry_mode: EntryMode = "free"
    price_fen: PriceFen | None = None
    member_cap: MemberCap = MEMBER_CAP_DEFAULT
    welcome_template: WelcomeTemplate = DEFAULT_WELCOME
    introduction_required: bool = False
    introduction_prompt: IntroductionPrompt = DEFAULT_INTRODUCTION_PROMPT
    refund_window_hours: RefundWindowHours = REFUND_WINDOW_DEFAULT_HOURS
    collections_by: Annotated[CollectionsBy, Meta(description="Who may start a group collection")] = "members"


class CommunityUpdate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Only the fields sent change; `coverMediaId: null` removes the cover. Visibility, entry mode, price, cap,
    refund window and who may start collections are the owner's."""

    removed_fields: ClassVar[dict[str, str]] = COVER_URL_REMOVED

    name: Name | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    cover_media_id: NewCoverMediaId | None | UnsetType = UNSET
    tags: Tags | UnsetType = UNSET
    visibility: Visibility | UnsetType = UNSET
    entry_mode: EntryMode | UnsetType = UNSET
    price_fen: PriceFen | None | UnsetType = UNSET
    member_cap: MemberCap | UnsetType = UNSET
    welcome_template: WelcomeTemplate | UnsetType = UNSET
    introduction_required: bool | UnsetType = UNSET
    introduction_prompt: IntroductionPrompt | UnsetType = UNSET
    refund_window_hours: RefundWindowHours | UnsetType = UNSET
    collections_by: CollectionsBy | UnsetType = UNSET


class Membership(msgspec.Struct, rename="camel", kw_only=True):
    role: Role
    status: MembershipStatus
    joined_at: datetime
    muted_until: datetime | None
    notifications_muted: bool
    unfollowed: bool
    introduced: bool
    introduction_post_id: str | None


class JoinRequest(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    community_id: str
    user_id: str
    nickname: str
    avatar_url: AvatarLink
    message: str
    status: RequestStatus
    reason: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: Annotated[str | None, Meta(examples=["7"])]


class Community(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    owner_id: str
    name: str
    description: str
    cover_url: CoverLink
    tags: Annotated[list[str], Meta(examples=[["跑步", "健康"]])]
    visibility: Visibility
    entry_mode: EntryMode
    price_fen: int | None
    member_cap: int
    member_count: int
    welcome_template: Annotated[str, Meta(examples=[DEFAULT_WELCOME])]
    introduction_required: bool
    introduction_prompt: Annotated[str, Meta(examples=[DEFAULT_INTRODUCTION_PROMPT])]
    refund_window_hours: int
    collections_by: CollectionsBy
    created_at: datetime
    updated_at: datetime
    stage: Annotated[
        Literal["gather", "active", "operate", "commercialise"],
        Meta(description="Derived daily from the last 30 days of metrics (docs/metrics.md)"),
    ] = "gather"
    membership: Annotated[
        Membership | None, Meta(description="My membership (active, or how it ended); null if I never joined")
    ] = None
    join_request: Annotated[
        JoinRequest | None, Meta(description="My latest join request, so a rejected applicant sees the reason")
    ] = None


class CommunitySummary(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    name: str
    description: str
    cover_url: CoverLink
    tags: Annotated[list[str], Meta(examples=[["跑步", "健康"]])]
    entry_mode: EntryMode
    price_fen: int | None
    member_count: int
    member_cap: int
    created_at: datetime


class CommunityPage(msgspec.Struct, rename="camel"):
    items: list[CommunitySummary]
    next_cursor: NextCursor


class MyCommunity(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    name: str
    cover_url: CoverLink
    entry_mode: EntryMode
    member_count: int
    role: Role
    joined_at: datetime
    notifications_muted: bool
    unfollowed: bool
    introduced: bool
    last_activity_at: Annotated[datetime, Meta(description="The latest visible post, or the community's creation")]
    unread_count: Annotated[
        int, Meta(description='Visible posts by others since I last read it, counted up to 100 ("99+" above 99)')
    ]


class MyCommunityPage(msgspec.Struct, rename="camel"):
    items: list[MyCommunity]
    next_cursor: NextCursor


class JoinBody(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    message: Annotated[
        str, Meta(max_length=200, examples=["我也喜欢跑步"], description="Approval communities: a note to the admins")
    ] = ""
    invite_code: (
        Annotated[
            str,
            Meta(
                pattern=r"^[A-Za-z0-9_-]{6,32}$(?!\n)",
                examples=["q3V9xk2LmP0a"],
                description="An invite link's code: admits without review and records who referred you",
            ),
        ]
        | None
    ) = None
    share_code: (
        Annotated[
            str,
            Meta(
                pattern=r"^[A-Za-z0-9_-]{8,32}$(?!\n)",
                examples=["Xq3V9xk2LmP0"],
                description="The code of the shared post that brought you (GET /v1/shares/{code}): its sharer is "
                "credited when you are admitted. It admits nobody by itself; a code of another community, or "
                "an unknown one, credits nobody",
            ),
        ]
        | None
    ) = None


class Welcome(msgspec.Struct, rename="camel", kw_only=True):
    post_id: str
    text: str
    introduction_required: bool
    introduction_prompt: Annotated[str, Meta(examples=[DEFAULT_INTRODUCTION_PROMPT])]


class JoinResult(msgspec.Struct, rename="camel", kw_only=True):
    outcome: Literal["joined", "already_member", "pending", "payment"]
    community_id: Annotated[
        str | None,
        Meta(description="Joined: the community I am now in; a sister community when the one asked was full"),
    ] = None
    membership: Membership | None = None
    welcome: Welcome | None = None
    request: JoinRequest | None = None
    order: Annotated[
        Order | None,
        Meta(
            description="Paid communities: the entry order. Pass `order.payment` to wx.requestPayment, then poll "
            "GET /v1/orders/{id}: `paid` with no refund means admitted; a refused payment shows `paid` with a "
            "refund under way, then `refunded`, and its refund's reason starts with the code (community_full, "
            "community_closed, member_removed, already_member)."
        ),
    ] = None


class JoinRequestPage(msgspec.Struct, rename="camel"):
    items: list[JoinRequest]
    next_cursor: NextCursor


class RejectBody(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    reason: Annotated[str, Meta(max_length=200, examples=["请先填写申请理由"])] = ""


class InviteCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    max_uses: Annotated[int, Meta(ge=1, le=MEMBER_CAP_MAX, examples=[20])] = 50
    expires_in_hours: Annotated[int, Meta(ge=1, le=720, examples=[168], description="1 hour to 30 days")] = 168


class Invite(msgspec.Struct, rename="camel", kw_only=True):
    code: Annotated[str, Meta(examples=["q3V9xk2LmP0a"])]
    community_id: str
    created_by: Annotated[str, Meta(examples=["7"])]
    max_uses: int
    uses: int
    expires_at: datetime
    revoked: bool
    created_at: datetime


class InvitePage(msgspec.Struct, rename="camel"):
    items: list[Invite]
    next_cursor: NextCursor


class ReferralEntry(msgspec.Struct, rename="camel", kw_only=True):
    rank: Annotated[int, Meta(description="1 for the most referrals; equal counts share a rank")]
    user_id: str
    nickname: str
    avatar_url: AvatarLink
    referrals: Annotated[int, Meta(description="Members brought in by an invite or a share, still members")]


class ReferralLeaderboard(msgspec.Struct, rename="camel", kw_only=True):
    community_id: str
    items: list[ReferralEntry]
    mine: Annotated[ReferralEntry | None, Meta(description="My place; null when I brought nobody in")]


class Member(msgspec.Struct, rename="camel", kw_only=True):
    user_id: str
    nickname: str
    avatar_url: AvatarLink
    role: Role
    joined_at: datetime
    introduced: bool
    muted_until: datetime | None


class MemberPage(msgspec.Struct, rename="camel"):
    items: list[Member]
    next_cursor: NextCursor


class MemberUpdate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """On `me`: notificationsMuted and unfollowed. On another member: role (owner) and muteMinutes (admins)."""

    role: Literal["admin", "member"] | UnsetType = UNSET
    mute_minutes: Annotated[int, Meta(ge=0, le=43_200, description="0 unmutes; at most 30 days")] | UnsetType = UNSET
    notifications_muted: bool | UnsetType = UNSET
    unfollowed: bool | UnsetType = UNSET


class OwnershipTransfer(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    user_id: IdString


class IntroductionCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    removed_fields: ClassVar[dict[str, str]] = IMAGE_URLS_REMOVED

    text: Annotated[str, Meta(min_length=1, max_length=1000, examples=["大家好，我是小林，在杭州，喜欢越野跑。"])]
    image_ids: ImageIds = []


class Introduction(msgspec.Struct, rename="camel", kw_only=True):
    post_id: str
    community_id: str
    user_id: str
    text: str
    images: list[Image]
    image_urls: EarlierImageUrls
    status: Annotated[
        Literal["visible", "pending"],
        Meta(
            description="pending: WeChat asked for a review, could not be reached yet, or is still checking a photo; "
            "only I see it"
        ),
    ]
    created_at: datetime


class Newcomer(msgspec.Struct, rename="camel", kw_only=True):
    user_id: str
    nickname: str
    avatar_url: AvatarLink
    joined_at: datetime
    introduced: bool


class NewcomerPage(msgspec.Struct, rename="camel"):
    items: list[Newcomer]
    next_cursor: NextCursor


class AuditEntry(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    action: Annotated[str, Meta(examples=["member.joined"])]
    actor_id: str | None
    actor_nickname: Annotated[str | None, Meta(examples=["阿杰"])]
    subject_id: str | None
    subject_nickname: Annotated[str | None, Meta(examples=["小林"])]
    details: dict[str, Any]
    created_at: datetime


class AuditPage(msgspec.Struct, rename="camel"):
    items: list[AuditEntry]
    next_cursor: NextCursor
