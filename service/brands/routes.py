"""HTTP routes of brands and series: thin handlers over logic.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter
from litestar.response import Stream

from service.brands import examples as ex
from service.brands import export, logic
from service.brands import models as m
from service.brands.problems import PROBLEMS
from service.core.days import DAY_RANGE
from service.core.deps import AppSettings, Db, WeChat
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.openapi import answer

TAG = "brands"
AUTH = ("unauthorized", "token_expired")
TEAM = (*AUTH, "not_found", "forbidden")
CHECKED = ("content_rejected", "wechat_session_stale", "wechat_unavailable", "wechat_error")
EXPORT_BOUNDS = ("export_window_too_long", "export_too_large")
EXPORT_DESCRIPTION = (
    "UTF-8 with a byte-order mark (Excel opens the Chinese correctly), CRLF lines, Chinese column headers "
    "(docs/brands.md lists them). Streamed from a read-only snapshot. `members` and `communities` are a picture of "
    "now; `orders` (orders and refunds), `rewards` (members' shares of committed pools) and `metrics` (one row per "
    "community and local day, as GET .../metrics counts) cover the local days `from`..`to` (default: the last 30 "
    "days; at most 366: `export_window_too_long`). At most 50,000 rows, counted before the first byte: "
    "`export_too_large` asks for a narrower window. A cell that starts like a formula is prefixed with `'`."
)
ReportParam = Annotated[
    export.ReportName,
    QueryParameter(description="members, communities, orders (and refunds), rewards (allocations), metrics (by day)"),
]
From = Annotated[date | None, QueryParameter(name="from", description=f"First local day (YYYY-MM-DD, {DAY_RANGE})")]
To = Annotated[
    date | None, QueryParameter(name="to", description=f"Last local day, inclusive ({DAY_RANGE}; default: today)")
]
BRAND_PAGE = answer(200, ex.BRAND, "a brand with a series of two", "The brand, its team and its communities")


class BrandsController(Controller):
    path = "/brands"
    tags = [TAG]
    security = BEARER_SECURITY

    @post(
        "",
        operation_id="createBrand",
        summary="Create a brand; I become its owner (its team acts as admins in every community of the brand)",
        description="Default keyword replies must pass WeChat's content check, since the robot posts them.",
        status_code=201,
        responses={
            **PROBLEMS.responses(*AUTH, *CHECKED, "idempotency_key_reused"),
            **answer(201, ex.BRAND, "a new brand", "The brand"),
        },
    )
    async def create(
        self,
        data: JSONBody[m.BrandCreate],
        caller: CurrentUser,
        state: State,
        wechat: WeChat,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Brand]:
        return await logic.create_brand(state.pool, wechat, caller.id, data, idempotency_key)

    @get(
        "/{brand_id:str}",
        operation_id="getBrand",
        summary="The brand page (its team): communities with member counts, stage and activity score",
        responses={**PROBLEMS.responses(*TEAM), **BRAND_PAGE},
    )
    async def page(self, brand_id: PathId, user: CurrentUser, db: Db) -> m.Brand:
        return await logic.get_brand(db, brand_id, user.id)

    @put(
        "/{brand_id:str}/defaults",
        operation_id="updateBrandDefaults",
        summary="Replace the defaults communities attached from now on inherit (the brand's team)",
        description=(
            "Default keyword replies must pass WeChat's content check, since the robot posts them. "
            "`pointsSpendable` acts at once in every community of the brand (docs/brands.md)."
        ),
        responses={**PROBLEMS.responses(*TEAM, *CHECKED), **BRAND_PAGE},
    )
    async def defaults(
        self, brand_id: PathId, data: JSONBody[m.BrandDefaults], caller: CurrentUser, state: State, wechat: WeChat
    ) -> m.Brand:
        return await logic.update_defaults(state.pool, wechat, brand_id, caller.id, data)

    @put(
        "/{brand_id:str}/admins/{user_id:str}",
        operation_id="addBrandAdmin",
        summary="Add a brand admin (the brand's owner): admin in every community of the brand",
        responses={**PROBLEMS.responses(*TEAM), **BRAND_PAGE},
    )
    async def add_admin(self, brand_id: PathId, user_id: PathId, user: CurrentUser, db: Db) -> m.Brand:
        return await logic.add_admin(db, brand_id, user.id, user_id)

    @delete(
        "/{brand_id:str}/admins/{user_id:str}",
        operation_id="removeBrandAdmin",
        summary="Remove a brand admin (the brand's owner); their rights in the brand's communities end at once",
        responses=PROBLEMS.responses(*TEAM),
    )
    async def remove_admin(self, brand_id: PathId, user_id: PathId, user: CurrentUser, db: Db) -> None:
        await logic.remove_admin(db, brand_id, user.id, user_id)

    @post(
        "/{brand_id:str}/ownership-transfer",
        operation_id="transferBrandOwnership",
        summary="Hand the brand to one of its admins (the brand's owner); you stay on as an admin",
        description=(
            "`userId` must be a brand admin (add them first). A brand's owner must do this before deleting their "
            "account (`owner_must_transfer`). Pools the old owner paid stay theirs to be refunded to; the new owner "
            "commits or cancels them. Send an `Idempotency-Key` to retry safely."
        ),
        status_code=200,
        responses={**PROBLEMS.responses(*TEAM, "idempotency_key_reused"), **BRAND_PAGE},
    )
    async def transfer(
        self,
        brand_id: PathId,
        data: JSONBody[m.BrandTransfer],
        user: CurrentUser,
        db: Db,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Brand]:
        return await logic.transfer(db, brand_id, user.id, data, idempotency_key)

    @post(
        "/{brand_id:str}/communities",
        operation_id="attachBrandCommunity",
        summary="Put a community I own into the brand (I am on its team); it inherits the brand's defaults",
        description=(
            "`inheritDefaults` (default true): the brand's welcome template, introduction rules and keyword rules "
            "replace the community's (a keyword the community already answers keeps its own rule). Attaching again "
            "answers the brand as it is."
        ),
        status_code=200,
        responses={**PROBLEMS.responses(*TEAM, "not_member", "community_in_brand"), **BRAND_PAGE},
    )
    async def attach(self, brand_id: PathId, data: JSONBody[m.AttachCommunity], user: CurrentUser, db: Db) -> m.Brand:
        return await logic.attach(db, brand_id, user.id, data)

    @post(
        "/{brand_id:str}/series",
        operation_id="createSeries",
        summary="Make a community of the brand the template and first sister of a series (the brand's team)",
        description=(
            "When a sister is full, a join (free, approval, paid: the payment buys entry to the series) goes to the "
            "next sister with room; when all are full a new sister `<name> <n>群` is opened with the template's "
            "settings and keyword rules. One plain membership per series at a time (docs/brands.md)."
        ),
        status_code=201,
        responses={
            **PROBLEMS.responses(*TEAM, "community_in_series", "idempotency_key_reused"),
            **answer(201, ex.SERIES, "a series of two", "The series"),
        },
    )
    async def series(
        self,
        brand_id: PathId,
        data: JSONBody[m.SeriesCreate],
        user: CurrentUser,
        db: Db,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Series]:
        return await logic.create_series(db, brand_id, user.id, data, idempotency_key)

    @get(
        "/{brand_id:str}/export",
        operation_id="exportBrandCsv",
        media_type="text/csv",
        tags=["export"],
        summary="Download a CSV over every community of the brand (its team): members, figures, money, metrics",
        description=EXPORT_DESCRIPTION + " Recorded in the brand's export log.",
        responses=PROBLEMS.responses(*TEAM, *EXPORT_BOUNDS),
    )
    async def download(
        self,
        brand_id: PathId,
        caller: CurrentUser,
        state: State,
        settings: AppSettings,
        report: ReportParam = "members",
        start: From = None,
        end: To = None,
    ) -> Stream:
        return await export.brand_export(state.pool, settings, brand_id, caller.id, report, start, end)


class CommunityExportController(Controller):
    path = "/communities"
    tags = ["export"]
    security = BEARER_SECURITY

    @get(
        "/{community_id:str}/export",
        operation_id="exportCommunityCsv",
        media_type="text/csv",
        summary="Download a CSV of one community (its admins, the brand's team too): members, money, metrics",
        description=EXPORT_DESCRIPTION + " Recorded in the community's audit log (`export.csv`).",
        responses=PROBLEMS.responses(*AUTH, "not_found", "not_member", "forbidden", *EXPORT_BOUNDS),
    )
    async def download(
        self,
        community_id: PathId,
        caller: CurrentUser,
        state: State,
        settings: AppSettings,
        report: ReportParam = "members",
        start: From = None,
        end: To = None,
    ) -> Stream:
        return await export.community_export(state.pool, settings, community_id, caller.id, report, start, end)


class SeriesController(Controller):
    path = "/series"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "/{series_id:str}",
        operation_id="getSeries",
        summary="A series of sister communities: each with its room, and the one I am in",
        responses={**PROBLEMS.responses(*AUTH, "not_found"), **answer(200, ex.SERIES, "two sisters", "The series")},
    )
    async def get(self, series_id: PathId, user: CurrentUser, db: Db) -> m.Series:
        return await logic.get_series(db, series_id, user.id)


CONTROLLERS = [BrandsController, SeriesController, CommunityExportController]
