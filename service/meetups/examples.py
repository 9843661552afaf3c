"""Answers shown as examples in the OpenAPI document, built from the real models so they cannot drift."""

from __future__ import annotations

from datetime import UTC, datetime

from service.core.money.examples import ORDER
from service.meetups import models as m

_AT = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
_START = datetime(2025, 6, 7, 1, 0, tzinfo=UTC)

SIGNUP = m.Signup(
    id="3001",
    meetup_id="88",
    user_id="1001",
    nickname="小林",
    status="confirmed",
    cancel_reason=None,
    waitlist_position=None,
    hold_until=None,
    order_id=None,
    attended_at=None,
    created_at=_AT,
)
MEETUP = m.Meetup(
    id="88",
    community_id="42",
    title="周六奥森晨跑",
    description="南门集合，10 公里，配速 6 分",
    mode="offline",
    place="奥林匹克森林公园南门",
    latitude=40.0155,
    longitude=116.3975,
    starts_at=_START,
    ends_at=datetime(2025, 6, 7, 3, 0, tzinfo=UTC),
    signup_deadline=datetime(2025, 6, 6, 12, 0, tzinfo=UTC),
    capacity=30,
    seats_taken=30,
    seats_left=0,
    waitlist=True,
    waitlist_count=4,
    fee_fen=None,
    status="open",
    cancel_reason="",
    created_at=_AT,
    my_signup=SIGNUP,
)
MEETUPS = m.MeetupPage(items=[MEETUP], next_cursor=None)
PENDING = m.SignupResult(
    signup=m.Signup(
        id="3002",
        meetup_id="89",
        user_id="1001",
        nickname="小林",
        status="pending_payment",
        cancel_reason=None,
        waitlist_position=None,
        hold_until=datetime(2025, 6, 1, 8, 16, tzinfo=UTC),
        order_id="6001",
        attended_at=None,
        created_at=_AT,
    ),
    order=ORDER,
)
WAITLISTED = m.SignupResult(
    signup=m.Signup(
        id="3003",
        meetup_id="88",
        user_id="1002",
        nickname="阿杰",
        status="waitlisted",
        cancel_reason=None,
        waitlist_position=5,
        hold_until=None,
        order_id=None,
        attended_at=None,
        created_at=_AT,
    )
)
SIGNUPS = m.SignupPage(items=[SIGNUP], next_cursor=None)
ATTENDED = m.Signup(
    id="3001",
    meetup_id="88",
    user_id="1001",
    nickname="小林",
    status="confirmed",
    cancel_reason=None,
    waitlist_position=None,
    hold_until=None,
    order_id=None,
    attended_at=datetime(2025, 6, 7, 0, 52, tzinfo=UTC),
    created_at=_AT,
)
VENUE_CODE = m.VenueCode(
    code="K7P3QZ",
    qr_payload="mv1.88.1749258000.q0o2c3H6kQ8JtQdq1Yc4mJYl3gqQe1uI0u8s0cQm0bE",
    qr_expires_at=datetime(2025, 6, 7, 1, 0, tzinfo=UTC),
    check_in_opens_at=datetime(2025, 6, 7, 0, 0, tzinfo=UTC),
    check_in_closes_at=datetime(2025, 6, 7, 3, 0, tzinfo=UTC),
)
