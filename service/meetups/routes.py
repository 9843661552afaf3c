"""HTTP routes of meetups: thin handlers over logic.py."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromQuery, JSONBody

from service.core.deps import AppSettings, Db
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.core.paging import Cursor, Limit
from service.meetups import attendance, logic, signups
from service.meetups import examples as ex
from service.meetups import models as m
from service.meetups.problems import PROBLEMS
from service.openapi import answer

TAG = "meetups"
AUTH = ("unauthorized", "token_expired")
CONTENT = ("content_rejected", "wechat_session_stale", "wechat_unavailable", "wechat_error")
PAYING = ("payment_unavailable", "order_already_paid", "conflict", "idempotency_key_reused")
# Routes by meetup id answer `not_found` to non-members.
IN_MEETUP = (*AUTH, "not_found", "app_disabled")


class CommunityMeetupsController(Controller):
    path = "/communities/{community_id:str}/meetups"
    tags = [TAG]
    security = BEARER_SECURITY

    @post(
        "",
        operation_id="createMeetup",
        summary="Create an online or offline meetup (admins): time, place, capacity, deadline, optional fee",
        description=(
            "`endsAt` defaults to two hours after `startsAt`, `signupDeadline` to the start. With `feeFen`, "
            "a place is paid through checkout. Title, description and place are content-checked."
        ),
        status_code=201,
        responses={
            **PROBLEMS.responses(*AUTH, "not_found", "not_member", "forbidden", "app_disabled", *CONTENT),
            **answer(201, ex.MEETUP, "a full meetup with a waitlist", "The meetup"),
        },
    )
    async def create(
        self, community_id: PathId, data: JSONBody[m.MeetupCreate], caller: CurrentUser, state: State
    ) -> m.Meetup:
        return await logic.create_meetup(state.pool, state.wechat, state.settings, community_id, caller.id, data)

    @get(
        "",
        operation_id="listMeetups",
        summary="A community's meetups: upcoming soonest first, or past latest first (members)",
        description=(
            "`upcoming`: meetups not ended yet, soonest start first; `past`: ended ones, latest first. Cancelled "
            "meetups are listed too, with `status` `cancelled`. `app_disabled` while the meetups app is off."
        ),
        responses={
            **PROBLEMS.responses(*AUTH, "not_found", "not_member", "app_disabled"),
            **answer(200, ex.MEETUPS, "one upcoming meetup", "Meetups"),
        },
    )
    async def list_meetups(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        when: FromQuery[Literal["upcoming", "past"]] = "upcoming",
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> m.MeetupPage:
        return await logic.list_meetups(db, community_id, user.id, when, limit, cursor)


class MeetupsController(Controller):
    path = "/meetups/{meetup_id:str}"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="getMeetup",
        summary="A meetup with places left, the waitlist and my sign-up (members)",
        description=(
            "`seatsLeft` and `waitlistCount` are counted now; `mySignup` is my sign-up, or null. A non-member gets "
            "`not_found`; `app_disabled` while the meetups app is off."
        ),
        responses={
            **PROBLEMS.responses(*IN_MEETUP),
            **answer(200, ex.MEETUP, "my place is confirmed", "The meetup as the caller sees it"),
        },
    )
    async def read(self, meetup_id: PathId, user: CurrentUser, db: Db) -> m.Meetup:
        return await logic.get_meetup(db, meetup_id, user.id)

    @put(
        "",
        operation_id="updateMeetup",
        summary="Edit a meetup (admins): text, place, capacity (more places promote the waitlist), deadline",
        description=(
            "Only the fields sent change; a new title, description or place must pass WeChat's content check outright. "
            "More capacity promotes the waitlist, first come first served (a paid place is held for payment and the "
            "member notified); capacity cannot go below the places taken (`capacity_below_signups`). A new "
            "`signupDeadline` must be in the future and not after the start, as at creation. A cancelled meetup "
            "answers `meetup_cancelled`."
        ),
        responses={
            **PROBLEMS.responses(*IN_MEETUP, "forbidden", "meetup_cancelled", "capacity_below_signups", *CONTENT),
            **answer(200, ex.MEETUP, "edited", "The meetup after the change"),
        },
    )
    async def update(
        self, meetup_id: PathId, data: JSONBody[m.MeetupUpdate], caller: CurrentUser, state: State
    ) -> m.Meetup:
        return await logic.update_meetup(state.pool, state.wechat, meetup_id, caller.id, data)

    @post(
        "/cancel",
        operation_id="cancelMeetup",
        summary="Cancel a meetup before it starts (admins): every sign-up ends, every paid place is refunded in full",
        description=(
            "Allowed with the app switched off, so the money can always go back. Only before the start: a meetup "
            "that has started or ended answers `meetup_started` (members may have checked in; nothing is "
            "refunded). Cancelling twice is fine, also after the start (a retry answers the cancelled meetup). A "
            "`reason` reaches every signed-up member's inbox, so it must pass WeChat's content check outright "
            "(`content_rejected`; `wechat_unavailable`: retry) before anything is cancelled or refunded; it is "
            "kept and sent trimmed."
        ),
        status_code=200,
        responses={
            **PROBLEMS.responses(*AUTH, "not_found", "forbidden", "meetup_started", *CONTENT),
            **answer(200, ex.MEETUP, "cancelled", "The cancelled meetup"),
        },
    )
    async def cancel(
        self, meetup_id: PathId, caller: CurrentUser, state: State, data: JSONBody[m.MeetupCancel | None] = None
    ) -> m.Meetup:
        # `caller`, not `user`: the content check waits on WeChat without holding a pooled connection.
        return await logic.cancel_meetup(
            state.pool, state.wechat, state.pay, meetup_id, caller.id, data or m.MeetupCancel()
        )

    @post(
        "/signups",
        operation_id="signUpForMeetup",
        summary="Sign up: a place (201), a held place with the order to pay, or the waitlist; again -> 200",
        description=(
            "Free meetup: `confirmed`. Paid: `pending_payment` with `order.payment` for `wx.requestPayment`; "
            "the place is held while the order can be paid and confirmed by the payment. Full: `waitlisted` "
            "(or `meetup_full` without a waitlist). Race-free: concurrent sign-ups never exceed the capacity. "
            "Send an `Idempotency-Key` to retry safely; a key that paid for something else (or for an earlier, "
            "lapsed or cancelled sign-up) answers `idempotency_key_reused` and holds no place. Once the meetup has "
            "ended, a place still held for payment gets no order (`signup_closed`) and a payment for it is refunded."
        ),
        status_code=201,
        responses={
            **PROBLEMS.responses(*IN_MEETUP, "meetup_full", "meetup_cancelled", "signup_closed", *PAYING),
            **answer(200, ex.WAITLISTED, "already on the waitlist", "Already signed up: nothing changed"),
            **answer(
                201,
                ex.PENDING,
                "a paid place held for payment",
                "New sign-up: confirmed, held for payment (with the order) or waitlisted",
            ),
        },
    )
    async def sign_up(
        self, meetup_id: PathId, caller: CurrentUser, state: State, idempotency_key: IdempotencyKey = None
    ) -> Response[m.SignupResult]:
        return await signups.sign_up(state.pool, state.pay, state.settings, meetup_id, caller.id, idempotency_key)

    @delete(
        "/signups/me",
        operation_id="cancelMySignup",
        summary="Give up my place or leave the waitlist; a paid place is refunded until the sign-up deadline",
        description=(
            "Allowed with the app switched off. The freed place goes to the first waitlisted member. A paid place "
            "checked in at the venue (check-in opens before the start) was used: `meetup_attended`, nothing is "
            "refunded and the place stays; a free one may still be given up."
        ),
        status_code=200,
        responses={
            **PROBLEMS.responses(*AUTH, "not_found", "cancellation_closed", "meetup_attended", "conflict"),
            **answer(200, ex.SIGNUP, "cancelled", "My sign-up after cancelling"),
        },
    )
    async def cancel_signup(self, meetup_id: PathId, caller: CurrentUser, state: State) -> m.Signup:
        return await signups.cancel_signup(state.pool, state.pay, meetup_id, caller.id)

    @get(
        "/signups",
        operation_id="listMeetupSignups",
        summary="Sign-ups of a meetup in the order they came (admins)",
        description=(
            "Every sign-up in the order it came, narrowed by `status`; a cancelled one carries `cancelReason`, a "
            "waitlisted one its `waitlistPosition` (1 = next to get a place). A non-member gets `not_found`."
        ),
        responses={
            **PROBLEMS.responses(*IN_MEETUP, "forbidden"),
            **answer(200, ex.SIGNUPS, "one confirmed place", "Sign-ups"),
        },
    )
    async def signups(
        self,
        meetup_id: PathId,
        user: CurrentUser,
        db: Db,
        status: FromQuery[Literal["confirmed", "pending_payment", "waitlisted", "cancelled"] | None] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> m.SignupPage:
        return await signups.list_signups(db, meetup_id, user.id, status, limit, cursor)

    @get(
        "/venue-code",
        operation_id="getMeetupVenueCode",
        summary="The venue's short code and a fresh signed QR payload to show at the door (admins)",
        description=(
            "The short code stays the same; the QR payload is signed and expires after MEETUPS_QR_TTL seconds (300) or "
            "when check-in closes, so show a fresh one. Check-in opens MEETUPS_CHECKIN_OPENS_BEFORE seconds (3600) "
            "before the start and closes at the end."
        ),
        responses={
            **PROBLEMS.responses(*IN_MEETUP, "forbidden", "meetup_cancelled"),
            **answer(200, ex.VENUE_CODE, "code and QR payload", "The venue credentials"),
        },
    )
    async def venue_code(self, meetup_id: PathId, user: CurrentUser, db: Db, settings: AppSettings) -> m.VenueCode:
        return await attendance.venue_code(db, settings, meetup_id, user.id)

    @post(
        "/attendance",
        operation_id="checkInAtVenue",
        summary="Check in at the venue with the short code or the scanned QR payload (confirmed members)",
        description=(
            "201 the first time (recorded as the interaction `attendance`), 200 after. A wrong, altered or "
            "foreign code: `venue_code_invalid`; an expired QR payload: `venue_code_expired`; outside the "
            "check-in hours: `venue_check_in_closed`."
        ),
        status_code=201,
        responses={
            **PROBLEMS.responses(
                *IN_MEETUP,
                "meetup_cancelled",
                "venue_code_invalid",
                "venue_code_expired",
                "venue_check_in_closed",
                "not_signed_up",
            ),
            **answer(200, ex.ATTENDED, "checked in before", "Checked in before: nothing changed"),
            **answer(201, ex.ATTENDED, "checked in", "My sign-up with the attendance time"),
        },
    )
    async def attend(
        self, meetup_id: PathId, data: JSONBody[m.AttendanceCheck], user: CurrentUser, db: Db, settings: AppSettings
    ) -> Response[m.Signup]:
        return await attendance.attend(db, settings, meetup_id, user.id, data)


CONTROLLERS = [CommunityMeetupsController, MeetupsController]
