"""HTTP routes of theme activities, check-ins and the community's time zone: thin handlers over logic.py."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromQuery, JSONBody, QueryParameter

from service.activities import checkins, manage
from service.activities import examples as ex
from service.activities import models as m
from service.activities.problems import PROBLEMS
from service.core.deps import AppSettings, Db, Store
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.ids import MAX_ID, PathId
from service.core.media import signed_json
from service.core.paging import Cursor, Limit
from service.openapi import answer

TAG = "activities"
AUTH = ("unauthorized", "token_expired")
MEMBER = (*AUTH, "not_found", "not_member", "app_disabled")
ADMIN = (*MEMBER, "forbidden")
CONTENT = ("content_rejected", "wechat_session_stale", "wechat_unavailable", "wechat_error")
# Routes by activity id answer `not_found` to non-members: the activity is the community's business.
IN_ACTIVITY = (*AUTH, "not_found", "app_disabled")

# Each query parameter declares its own name: an Annotated alias nested in another keeps only the inner
# QueryParameter, so `name="userId"` on top of a shared alias was lost and `?userId=` silently ignored.
OccurrenceFilter = Annotated[
    int | None, QueryParameter(name="occurrenceId", ge=1, le=MAX_ID, description="Only this occurrence's")
]
MemberFilter = Annotated[int | None, QueryParameter(name="userId", ge=1, le=MAX_ID, description="Only this member's")]


class CommunityActivitiesController(Controller):
    path = "/communities/{community_id:str}"
    tags = [TAG]
    security = BEARER_SECURITY

    @post(
        "/activities",
        operation_id="createActivity",
        summary="Schedule a recurring theme activity (admins); the robot announces each occurrence",
        description=(
            "Recurrence: `daily`, `weekly` on `weekdays`, or on `dates`. The window is local time in the "
            "community's time zone; a `windowEnd` earlier than `windowStart` closes the next day. Occurrences "
            "are generated ahead; the one open now (if any) is announced at once. Title and prompt are "
            "content-checked."
        ),
        status_code=201,
        responses={
            **PROBLEMS.responses(*ADMIN, *CONTENT),
            **answer(201, ex.ACTIVITY, "scheduled, open now", "The activity with its open and next occurrence"),
        },
    )
    async def create(
        self, community_id: PathId, data: JSONBody[m.ActivityCreate], caller: CurrentUser, state: State
    ) -> m.Activity:
        return await manage.create_activity(state.pool, state.wechat, state.settings, community_id, caller.id, data)

    @get(
        "/activities",
        operation_id="listActivities",
        summary="A community's theme activities, newest first (members)",
        description=(
            "Active and ended activities unless `status` narrows them; `nextOpensAt` is the opening of the current or "
            "next occurrence (null when none is scheduled). An activity is ended once an admin ended it or once its "
            "schedule ran out (from the local day after its `endsOn` or last date, in the community's time zone). "
            "`app_disabled` while the activities app is off."
        ),
        responses={
            **PROBLEMS.responses(*MEMBER),
            **answer(200, ex.ACTIVITIES, "one active activity", "Activities, newest first"),
        },
    )
    async def list_activities(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        status: FromQuery[Literal["active", "ended"] | None] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> m.ActivityPage:
        return await manage.list_activities(db, community_id, user.id, status, limit, cursor)

    @get(
        "/timezone",
        operation_id="getCommunityTimeZone",
        summary="The community's time zone: it decides local days and active hours (members)",
        responses={
            **PROBLEMS.responses(*AUTH, "not_found", "not_member"),
            **answer(200, ex.TIME_ZONE, "the default zone", "The community time zone"),
        },
    )
    async def time_zone(self, community_id: PathId, user: CurrentUser, db: Db) -> m.TimeZoneSetting:
        return await checkins.get_time_zone(db, community_id, user.id)

    @put(
        "/timezone",
        operation_id="setCommunityTimeZone",
        summary="Set the community's IANA time zone (owner); occurrences not yet open follow it",
        responses={
            **PROBLEMS.responses(*AUTH, "not_found", "not_member", "forbidden"),
            **answer(200, ex.TIME_ZONE, "set", "The time zone now in force"),
        },
    )
    async def set_time_zone(
        self,
        community_id: PathId,
        data: JSONBody[m.TimeZoneSetting],
        user: CurrentUser,
        db: Db,
        settings: AppSettings,
    ) -> m.TimeZoneSetting:
        return await checkins.set_time_zone(db, settings, community_id, user.id, data)


class ActivitiesController(Controller):
    path = "/activities/{activity_id:str}"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="getActivity",
        summary="An activity with its open and next occurrence and my streaks (members)",
        description=(
            "`current` is the occurrence open now and `next` the one after (null when there is none). `me` holds my "
            "check-ins, points and streaks: a missed occurrence breaks a streak, the one open now only once it closes. "
            "A non-member gets `not_found`; `app_disabled` while the activities app is off."
        ),
        responses={
            **PROBLEMS.responses(*IN_ACTIVITY),
            **answer(200, ex.ACTIVITY, "checked in today, a streak of 3", "The activity as the caller sees it"),
        },
    )
    async def read(self, activity_id: PathId, user: CurrentUser, db: Db) -> m.Activity:
        return await manage.get_activity(db, activity_id, user.id)

    @put(
        "",
        operation_id="updateActivity",
        summary="Edit an activity (admins); a new window or days regenerate the occurrences not yet open",
        description=(
            "Only the fields sent change. A new window, weekdays, dates or end date drop the occurrences not yet open "
            "and generate them again; opened ones keep theirs. A new title or prompt must pass WeChat's content check "
            "outright (text held for review is refused too: the robot posts it). An ended activity answers "
            "`activity_ended`: one an admin ended, or one whose schedule ran out (the local day after its `endsOn` or "
            "last date has come)."
        ),
        responses={
            **PROBLEMS.responses(*IN_ACTIVITY, "forbidden", "activity_ended", *CONTENT),
            **answer(200, ex.ACTIVITY, "edited", "The activity after the change"),
        },
    )
    async def update(
        self, activity_id: PathId, data: JSONBody[m.ActivityUpdate], caller: CurrentUser, state: State
    ) -> m.Activity:
        return await manage.update_activity(state.pool, state.wechat, state.settings, activity_id, caller.id, data)

    @delete(
        "",
        operation_id="endActivity",
        summary="End an activity (admins): no further occurrences; past check-ins stay",
        description=(
            "Deletes the occurrences not yet open; one open now still takes check-ins until it closes. Ending an ended "
            "activity changes nothing."
        ),
        status_code=204,
        responses=PROBLEMS.responses(*IN_ACTIVITY, "forbidden"),
    )
    async def end(self, activity_id: PathId, user: CurrentUser, db: Db) -> None:
        await manage.end_activity(db, activity_id, user.id)

    @get(
        "/occurrences",
        operation_id="listActivityOccurrences",
        summary="Occurrences that have opened, newest first (members)",
        description=(
            "Only occurrences whose window has opened, each with the robot's announcement post and its check-in count. "
            "A non-member gets `not_found`; `app_disabled` while the activities app is off."
        ),
        responses={
            **PROBLEMS.responses(*IN_ACTIVITY),
            **answer(200, ex.OCCURRENCES, "the latest occurrence", "Occurrences, newest first"),
        },
    )
    async def occurrences(
        self, activity_id: PathId, user: CurrentUser, db: Db, limit: Limit = 20, cursor: Cursor = None
    ) -> m.OccurrencePage:
        return await manage.list_occurrences(db, activity_id, user.id, limit, cursor)

    @post(
        "/check-ins",
        operation_id="checkIn",
        summary="Check in (打卡): answer the open occurrence with a post, once per occurrence",
        description=(
            "The text is content-checked (WeChat msg_sec_check); text held for review is kept pending but the "
            "check-in counts; so do photos (`imageIds`, my uploads) until WeChat passed them. Outside the window: "
            "`check_in_late` (closed) or `check_in_not_open`; a second check-in: `already_checked_in`. Recorded as "
            "the interaction `check_in`. The check-in is its post: once the post is deleted, refused or removed, the "
            "check-in no longer counts (`counted` false) and the occurrence may be checked into again while open."
        ),
        status_code=201,
        responses={
            **PROBLEMS.responses(
                *IN_ACTIVITY,
                "not_member",
                "member_muted",
                "introduction_required",
                "check_in_late",
                "check_in_not_open",
                "already_checked_in",
                "activity_ended",
                *CONTENT,
                "media_rejected",
            ),
            **answer(201, ex.CHECK_IN, "the third day in a row", "The check-in and its streak"),
        },
    )
    async def check_in(
        self, activity_id: PathId, data: JSONBody[m.CheckInCreate], caller: CurrentUser, state: State
    ) -> Response[m.CheckIn]:
        made = await checkins.check_in(state.pool, state.wechat, activity_id, caller.id, data)
        return await signed_json(state.storage, made, 201)

    @get(
        "/check-ins",
        operation_id="listCheckIns",
        summary="Check-ins, newest first, of one occurrence or one member (members)",
        description=(
            "Narrow with `occurrenceId` or `userId`, or list the whole activity. A check-in whose post is held for "
            "review, deleted or refused is listed to its author only (the last two with `counted` false). A "
            "non-member gets `not_found`."
        ),
        responses={
            **PROBLEMS.responses(*IN_ACTIVITY),
            **answer(200, ex.CHECK_INS, "one check-in", "Check-ins, newest first"),
        },
    )
    async def check_ins(
        self,
        activity_id: PathId,
        user: CurrentUser,
        db: Db,
        storage: Store,
        occurrence_id: OccurrenceFilter = None,
        user_id: MemberFilter = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> Response[m.CheckInPage]:
        page = await checkins.list_check_ins(db, activity_id, user.id, occurrence_id, user_id, limit, cursor)
        return await signed_json(storage, page)

    @get(
        "/ranking",
        operation_id="activityRanking",
        summary="The activity's ranking: check-ins, streaks and points per member (members)",
        description=(
            "Ranked by check-ins, then longest streak, then current streak; members equal on all three share a rank. "
            "Only counted check-ins: one whose post was deleted, refused or removed counts for nothing. Pages of "
            "`limit` with `nextCursor` (ties in user id order, never repeated or skipped across pages). A non-member "
            "gets `not_found`; `app_disabled` while the activities app is off."
        ),
        responses={**PROBLEMS.responses(*IN_ACTIVITY), **answer(200, ex.RANKING, "two members", "The ranking")},
    )
    async def ranking(
        self, activity_id: PathId, user: CurrentUser, db: Db, limit: Limit = 50, cursor: Cursor = None
    ) -> m.Ranking:
        return await checkins.ranking(db, activity_id, user.id, limit, cursor)


CONTROLLERS = [CommunityActivitiesController, ActivitiesController]
