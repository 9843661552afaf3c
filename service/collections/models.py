"""Requests and answers of group collections (camelCase on the wire, ids as strings, money in fen)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from service.core.media import AvatarLink
from service.core.paging import NextCursor
from service.wechat.pay import MAX_UNNAMED_TRANSFER_FEN, MIN_TRANSFER_FEN

# The collection is paid out in one merchant transfer: no share below what WeChat transfers, no total above
# what it transfers without the payee's real name.
SHARE_MIN_FEN = MIN_TRANSFER_FEN
SHARE_MAX_FEN = 50_000
TOTAL_MAX_FEN = MAX_UNNAMED_TRANSFER_FEN
PARTICIPANTS_MAX = 500  # the largest community
MIN_DURATION_MINUTES = 10

CollectionStatus = Literal["open", "settling", "settled", "cancelled"]
ShareStatus = Literal["unpaid", "paid", "refunded", "expired"]
PayoutStatus = Literal["none", "pending", "succeeded", "failed", "cancelled"]
CancelCause = Literal["manual", "initiator_left"]
IdString = Annotated[str, Meta(pattern=r"^[1-9][0-9]{0,15}$(?!\n)", examples=["42"])]


class CollectionCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    title: Annotated[str, Meta(min_length=1, max_length=40, examples=["周六烧烤 AA"])]
    amount_fen: Annotated[
        int,
        Meta(
            ge=SHARE_MIN_FEN,
            le=SHARE_MAX_FEN,
            examples=[4500],
            description=f"What each participant pays, {SHARE_MIN_FEN}-{SHARE_MAX_FEN} fen; the whole collection "
            f"(amount x participants) stays under {TOTAL_MAX_FEN + 1} fen",
        ),
    ]
    participant_ids: (
        Annotated[
            list[IdString],
            Meta(
                min_length=1,
                max_length=PARTICIPANTS_MAX,
                description="Active members who pay; omitted: every active member but you, as of now",
            ),
        ]
        | None
    ) = None
    deadline: (
        Annotated[
            datetime,
            Meta(
                tz=True,
                description=f"When payments stop and the collection is settled: {MIN_DURATION_MINUTES} minutes to "
                "COLLECTION_MAX_HOURS (7 days) from now; omitted: COLLECTION_DEFAULT_HOURS (24 hours) from now",
            ),
        ]
        | None
    ) = None


class CollectionCancel(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    reason: Annotated[str, Meta(max_length=80, examples=["活动取消"], description="Shown to the payers")] = ""


class Participant(msgspec.Struct, rename="camel", kw_only=True):
    user_id: str
    nickname: str
    avatar_url: AvatarLink
    status: ShareStatus
    paid_at: datetime | None


class MyShare(msgspec.Struct, rename="camel", kw_only=True):
    status: ShareStatus
    order_id: Annotated[str | None, Meta(description="The order that paid it (GET /v1/orders/{id})")]


class Collection(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    community_id: str
    initiator_id: str
    initiator_nickname: Annotated[str, Meta(examples=["阿杰"])]
    title: str
    amount_fen: int
    deadline: datetime
    status: CollectionStatus
    participant_count: int
    paid_count: Annotated[int, Meta(description="Shares paid and not refunded")]
    collected_fen: Annotated[int, Meta(description="Money of those shares")]
    payout_status: Annotated[
        PayoutStatus | None,
        Meta(description="After settlement: the transfer to the initiator (none: nothing was collected)"),
    ]
    transfer_id: Annotated[
        str | None,
        Meta(description="The initiator confirms the payout with wx.requestMerchantTransfer: GET /v1/transfers/{id}"),
    ]
    cancel_reason: Annotated[
        str, Meta(examples=[""], description="Empty unless cancelled by hand with a reason (the canceller's words)")
    ]
    cancel_cause: Annotated[
        CancelCause | None,
        Meta(
            description="Why it was cancelled (null unless cancelled): `manual`, by the initiator or an admin; "
            "`initiator_left`, the initiator was no longer an active member of the community when it was to be "
            "settled (left, removed or account deleted), so nothing was paid out and every payer was refunded"
        ),
    ]
    initiator_active: Annotated[
        bool,
        Meta(
            description="Whether the initiator is an active member of the community now. While false, paying "
            "answers `initiator_left`; unless they are back by the deadline, the collection is then cancelled "
            "(`cancelCause: initiator_left`) and every payer refunded"
        ),
    ]
    created_at: datetime
    settled_at: datetime | None
    cancelled_at: datetime | None
    my_share: Annotated[MyShare | None, Meta(description="The caller's share; null when not a participant")] = None
    participants: Annotated[
        list[Participant] | None, Meta(description="Who pays and who paid (on GET /v1/collections/{id})")
    ] = None


class CollectionPage(msgspec.Struct, rename="camel"):
    items: list[Collection]
    next_cursor: NextCursor
