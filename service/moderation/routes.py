"""HTTP routes of moderation: thin handlers over logic.py."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, Response, get, post
from litestar.params import FromQuery, JSONBody

from service.core.deps import AppSettings, Db, Store
from service.core.guard import BEARER_SECURITY, OPERATOR_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.core.paging import Cursor, Limit
from service.moderation import examples as ex
from service.moderation import logic
from service.moderation import models as m
from service.moderation.problems import PROBLEMS
from service.openapi import answer

TAG = "moderation"
AUTH = ("unauthorized", "token_expired")
QueueStatus = FromQuery[Literal["open", "decided"]]
DECISION_DOC = (
    "`approve` keeps or releases the content (also what WeChat's check held for review) and dismisses the reports; "
    "`remove` removes a post or comment (its author sees the reason in `GET /v1/me/removals` and gets a subscribe "
    "message, unless they had deleted it before), delists a reported community, and upholds a member case. "
    "Deciding is final and done once: the same decision again answers the case as it is, another one "
    "`case_decided`. Reporters are told the outcome."
)


class ReportsController(Controller):
    path = "/reports"
    tags = [TAG]
    security = BEARER_SECURITY

    @post(
        "",
        operation_id="createReport",
        summary="Report a post, comment, member or community (once per target)",
        description=(
            "A reason from the list; `other` needs a `note`. Members report what they can see in their communities; "
            "a member is reported with the `communityId` where it happened. Reports against a community, its owner "
            "or its admins go to the platform operator, the rest to the community's admins. When "
            "`REPORT_HIDE_THRESHOLD` distinct members reported a post or comment it is hidden until decided."
        ),
        status_code=201,
        responses={
            **PROBLEMS.responses(
                *AUTH,
                "not_found",
                "not_member",
                "cannot_report_yourself",
                "already_reported",
                "conflict",
                "idempotency_key_reused",
            ),
            **answer(201, ex.REPORT, "a spam report", "The report, `pending` until decided"),
        },
    )
    async def create(
        self,
        data: JSONBody[m.ReportCreate],
        caller: CurrentUser,
        db: Db,
        settings: AppSettings,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Report]:
        return await logic.report(db, settings, caller.id, data, idempotency_key)


class MyModerationController(Controller):
    path = "/me"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "/reports",
        operation_id="listMyReports",
        summary="My reports and their outcome, newest first",
        responses={**PROBLEMS.responses(*AUTH), **answer(200, ex.REPORTS, "one pending report", "My reports")},
    )
    async def reports(self, user: CurrentUser, db: Db, limit: Limit = 20, cursor: Cursor = None) -> m.ReportPage:
        return await logic.my_reports(db, user.id, limit, cursor)

    @get(
        "/removals",
        operation_id="listMyRemovals",
        summary="My posts and comments that moderators removed, with the reason, newest first",
        responses={**PROBLEMS.responses(*AUTH), **answer(200, ex.REMOVALS, "a removed post", "My removed content")},
    )
    async def removals(self, user: CurrentUser, db: Db, limit: Limit = 20, cursor: Cursor = None) -> m.RemovalPage:
        return await logic.my_removals(db, user.id, limit, cursor)


class CommunityQueueController(Controller):
    path = "/communities/{community_id:str}/moderation"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="listModerationQueue",
        summary="The community's moderation queue (admins): open cases, newest first, or decided ones",
        description=(
            "Each case: the content with its photos, the reasons and their counts, the reporters' notes, whether "
            "WeChat's check held it for review or reports hid it, and the author's history here (earlier removals, "
            "mutes, current mute). Cases against the community's owner and admins are the operator's."
        ),
        responses={
            **PROBLEMS.responses(*AUTH, "not_found", "not_member", "forbidden"),
            **answer(200, ex.CASES, "a hidden spam post", "Cases"),
        },
    )
    async def queue(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        storage: Store,
        status: QueueStatus = "open",
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> Response[m.CasePage]:
        return await logic.community_queue(db, storage, community_id, user.id, status, limit, cursor)


class CasesController(Controller):
    path = "/moderation/cases"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "/{case_id:str}",
        operation_id="readModerationCase",
        summary="One case of my community's queue (admins)",
        responses={**PROBLEMS.responses(*AUTH, "not_found"), **answer(200, ex.CASE, "an open case", "The case")},
    )
    async def read(self, case_id: PathId, user: CurrentUser, db: Db, storage: Store) -> Response[m.Case]:
        return await logic.read_case(db, storage, case_id, user.id)

    @post(
        "/{case_id:str}/decision",
        operation_id="decideModerationCase",
        summary="Decide a case (admins): approve or remove, and optionally mute or remove the author",
        description=DECISION_DOC + " `muteAuthorMinutes` and `removeAuthor` follow the member rules (only the owner "
        "mutes or removes an admin; an author no longer in the community: `author_not_member`); a refused sanction "
        "leaves the whole decision undone.",
        status_code=200,
        responses={
            **PROBLEMS.responses(*AUTH, "not_found", "forbidden", "case_decided", "author_not_member"),
            **answer(200, ex.DECIDED, "a removed post", "The decided case"),
        },
    )
    async def decide(
        self, case_id: PathId, data: JSONBody[m.Decision], user: CurrentUser, db: Db, storage: Store
    ) -> Response[m.Case]:
        return await logic.decide(db, storage, case_id, user.id, data)


class OperatorQueueController(Controller):
    path = "/admin/moderation"
    tags = [TAG]
    security = OPERATOR_SECURITY

    @get(
        "",
        operation_id="listOperatorModerationQueue",
        summary="The platform operator's queue: reports against communities, their owners and admins",
        description="Send the operator key in `X-Operator-Key`.",
        responses={**PROBLEMS.responses("operator_only"), **answer(200, ex.CASES, "a case", "Cases")},
    )
    async def queue(
        self, db: Db, storage: Store, status: QueueStatus = "open", limit: Limit = 20, cursor: Cursor = None
    ) -> Response[m.CasePage]:
        return await logic.queue(db, storage, None, status, limit, cursor)

    @post(
        "/{case_id:str}/decision",
        operation_id="decideOperatorModerationCase",
        summary="Decide a case of the operator's queue: approve or remove",
        description=DECISION_DOC + " The operator does not mute or remove members: their community's admins do.",
        status_code=200,
        responses={
            **PROBLEMS.responses("operator_only", "not_found", "case_decided"),
            **answer(200, ex.DECIDED, "a removed post", "The decided case"),
        },
    )
    async def decide(self, case_id: PathId, data: JSONBody[m.Decision], db: Db, storage: Store) -> Response[m.Case]:
        return await logic.decide(db, storage, case_id, None, data)


CONTROLLERS = [
    ReportsController,
    MyModerationController,
    CommunityQueueController,
    CasesController,
    OperatorQueueController,
]
