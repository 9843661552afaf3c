"""Requests and answers of meetups (camelCase on the wire; times RFC 3339 with a zone)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from service.core.money.models import Order
from service.core.paging import NextCursor

Mode = Literal["online", "offline"]
SignupStatus = Literal["confirmed", "pending_payment", "waitlisted", "cancelled"]
When = Annotated[datetime, Meta(tz=True, examples=["2025-06-07T01:00:00Z"])]
Title = Annotated[str, Meta(min_length=1, max_length=60, examples=["周六奥森晨跑"])]
Description = Annotated[str, Meta(max_length=2000, examples=["南门集合，10 公里，配速 6 分"])]
Place = Annotated[
    str, Meta(max_length=200, examples=["奥林匹克森林公园南门"], description="Address, or the link of an online one")
]
Latitude = Annotated[float, Meta(ge=-90, le=90, examples=[40.0155])]
Longitude = Annotated[float, Meta(ge=-180, le=180, examples=[116.3975])]
Capacity = Annotated[int, Meta(ge=1, le=5000, examples=[30])]
FeeFen = Annotated[int, Meta(ge=1, le=1_000_000, examples=[2000], description="Fee in fen; null: free")]


class MeetupCreate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    title: Title
    mode: Annotated[Mode, Meta(examples=["offline"])]
    starts_at: When
    capacity: Capacity
    description: Description = ""
    place: Annotated[Place, Meta(description="Required offline")] = ""
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    ends_at: Annotated[When | None, Meta(description="Default: two hours after the start")] = None
    signup_deadline: Annotated[When | None, Meta(description="Default: the start")] = None
    waitlist: Annotated[bool, Meta(description="Members may queue once it is full")] = True
    fee_fen: FeeFen | None = None


class MeetupUpdate(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Only the fields sent change. Time, mode and fee are fixed: cancel and create another meetup instead."""

    title: Title | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    place: Place | UnsetType = UNSET
    latitude: Latitude | None | UnsetType = UNSET
    longitude: Longitude | None | UnsetType = UNSET
    capacity: (
        Annotated[Capacity, Meta(description="Not below the places taken; more places promote the waitlist")]
        | UnsetType
    ) = UNSET
    waitlist: bool | UnsetType = UNSET
    signup_deadline: When | UnsetType = UNSET


class Signup(msgspec.Struct, rename="camel", kw_only=True):
    id: Annotated[str, Meta(examples=["3001"])]
    meetup_id: str
    user_id: str
    nickname: str
    status: Annotated[
        SignupStatus,
        Meta(
            description="confirmed: a place; pending_payment: a place held until holdUntil while the order is "
            "paid; waitlisted: queued (waitlistPosition); cancelled: see cancelReason"
        ),
    ]
    cancel_reason: Annotated[
        Literal["member", "hold_expired", "refunded", "meetup_cancelled", "member_left"] | None,
        Meta(
            description="member: you cancelled; hold_expired: not paid in time; refunded; meetup_cancelled; "
            "member_left: you left the community or were removed (a paid place is refunded in full)"
        ),
    ]
    waitlist_position: Annotated[int | None, Meta(description="1 = next to get a place")]
    hold_until: datetime | None
    order_id: Annotated[str | None, Meta(description="The order paying the fee (GET /v1/orders/{id})")]
    attended_at: datetime | None
    created_at: datetime


class SignupResult(msgspec.Struct, rename="camel", kw_only=True):
    """The sign-up and, while a fee is to be paid, the order (its `payment` goes to `wx.requestPayment`)."""

    signup: Signup
    order: Order | None = None


class SignupPage(msgspec.Struct, rename="camel"):
    items: list[Signup]
    next_cursor: NextCursor


class Meetup(msgspec.Struct, rename="camel", kw_only=True):
    id: Annotated[str, Meta(examples=["88"])]
    community_id: str
    title: str
    description: str
    mode: Mode
    place: Annotated[str, Meta(examples=["奥林匹克森林公园南门"])]
    latitude: float | None
    longitude: float | None
    starts_at: datetime
    ends_at: datetime
    signup_deadline: datetime
    capacity: int
    seats_taken: Annotated[int, Meta(description="Confirmed places and places held for payment")]
    seats_left: int
    waitlist: bool
    waitlist_count: int
    fee_fen: int | None
    status: Literal["open", "cancelled"]
    cancel_reason: Annotated[str, Meta(examples=[""], description="Empty unless cancelled")]
    created_at: datetime
    my_signup: Signup | None = None


class MeetupPage(msgspec.Struct, rename="camel"):
    items: list[Meetup]
    next_cursor: NextCursor


class MeetupCancel(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    reason: Annotated[str, Meta(max_length=200, examples=["暴雨预警，活动取消"])] = ""


class AttendanceCheck(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Exactly one of `code` (typed in) or `qr` (scanned)."""

    code: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{6}$(?!\n)", examples=["K7P3QZ"])] | None = None
    qr: Annotated[str, Meta(max_length=200, examples=["mv1.88.1749260400.Fh3...43 characters"])] | None = None


class VenueCode(msgspec.Struct, rename="camel", kw_only=True):
    code: Annotated[str, Meta(examples=["K7P3QZ"], description="Show it at the venue; valid during check-in")]
    qr_payload: Annotated[
        str,
        Meta(
            examples=["mv1.88.1749258000.q0o2c3H6kQ8JtQdq1Yc4mJYl3gqQe1uI0u8s0cQm0bE"],
            description="Encode it as a QR code; it expires at qrExpiresAt",
        ),
    ]
    qr_expires_at: datetime
    check_in_opens_at: datetime
    check_in_closes_at: datetime
