"""HTTP routes of community apps: the catalogue, a community's apps, the owner's switch, the operator's prices."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter

from service.apps import examples as ex
from service.apps import logic
from service.apps import models as m
from service.apps.problems import PROBLEMS
from service.core.apps import APPS
from service.core.deps import Db
from service.core.guard import BEARER_SECURITY, OPERATOR_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.openapi import answer

TAG = "apps"
AUTH = ("unauthorized", "token_expired")
OWNER = (*AUTH, "not_found", "not_member", "forbidden")
PAYING = ("payment_unavailable", "order_already_paid", "conflict", "idempotency_key_reused")

AppPath = Annotated[str, PathParameter(pattern=m.APP_PATTERN, description="An app: " + ", ".join(APPS))]


class AppCatalogueController(Controller):
    path = "/apps"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="listAppCatalogue",
        summary="Every app an owner can switch on, with its price (free, one-off or monthly, in fen)",
        responses={**PROBLEMS.responses(*AUTH), **answer(200, ex.CATALOGUE, "meetups priced monthly", "The catalogue")},
    )
    async def catalogue(self, user: CurrentUser, db: Db) -> m.Catalogue:
        return await logic.catalogue(db)


class AppPricesController(Controller):
    path = "/admin/apps"
    tags = [TAG]
    security = OPERATOR_SECURITY  # enforced by the app-wide guard before the body is read

    @put(
        "/{app:str}/price",
        operation_id="setAppPrice",
        summary="Price an app, one-off or per month (platform operator, X-Operator-Key)",
        description="Communities that have not paid lose the app until they pay; paid periods are kept.",
        responses={
            **PROBLEMS.responses("operator_only"),
            **answer(200, ex.PRICE, "monthly", "The app with its new price"),
        },
    )
    async def set_price(self, app: AppPath, data: JSONBody[m.AppPrice], db: Db) -> m.CatalogueApp:
        return await logic.set_price(db, app, data)

    @delete(
        "/{app:str}/price",
        operation_id="clearAppPrice",
        summary="Make an app free again (platform operator, X-Operator-Key)",
        status_code=204,
        responses=PROBLEMS.responses("operator_only"),
    )
    async def clear_price(self, app: AppPath, db: Db) -> None:
        await logic.clear_price(db, app)


class CommunityAppsController(Controller):
    path = "/communities/{community_id:str}/apps"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="listCommunityApps",
        summary="The apps that are on in a community (members); all=true: every app with its state (admins)",
        responses={**PROBLEMS.responses(*OWNER), **answer(200, ex.COMMUNITY_APPS, "a free and a paid app", "Apps")},
    )
    async def list_apps(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        include_all: Annotated[
            bool, QueryParameter(name="all", description="Every app with its state and price (owner and admins)")
        ] = False,
    ) -> m.CommunityAppList:
        return await logic.community_apps(db, community_id, user.id, include_all)

    @put(
        "/{app:str}",
        operation_id="enableCommunityApp",
        summary="Switch an app on (owner): free or paid up -> 200; priced -> 202 with the order to pay",
        description=(
            "A priced app comes on when its order is paid (`order.payment` goes to `wx.requestPayment`): a "
            "monthly app for a month more, a one-off app for good. Asking again returns the same payable order. "
            "Send an `Idempotency-Key` to retry safely."
        ),
        status_code=200,
        responses={
            **PROBLEMS.responses(*OWNER, *PAYING),
            **answer(
                202, ex.TO_PAY, "priced: the order to pay", "Priced and not paid up: the app and the order to pay"
            ),
            **answer(200, ex.ENABLED, "a free app", "The app is on"),
        },
    )
    async def enable(
        self,
        community_id: PathId,
        app: AppPath,
        caller: CurrentUser,
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.AppCheckout]:
        return await logic.enable(state.pool, state.pay, state.settings, community_id, caller.id, app, idempotency_key)

    @post(
        "/{app:str}/renewal",
        operation_id="renewCommunityApp",
        summary="Pay one more month of a monthly app before it ends (owner): 202 with the order",
        description=(
            "Only a priced monthly app the community has not bought for good (`app_not_renewable` otherwise: an "
            "app bought one-off stays on whatever its price becomes). The payment adds a month to the paid period "
            "(from now, if it has ended) and switches the app on; asking again returns the same payable order. App "
            "purchases are not refunded to the payer on request."
        ),
        status_code=202,
        responses={
            **PROBLEMS.responses(*OWNER, *PAYING, "app_not_renewable"),
            **answer(202, ex.TO_PAY, "one month more", "The app and the order to pay"),
        },
    )
    async def renew(
        self,
        community_id: PathId,
        app: AppPath,
        caller: CurrentUser,
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.AppCheckout]:
        return await logic.renew(state.pool, state.pay, state.settings, community_id, caller.id, app, idempotency_key)

    @delete(
        "/{app:str}",
        operation_id="disableCommunityApp",
        summary="Switch an app off (owner): its routes answer app_disabled; a paid period is kept",
        status_code=204,
        responses=PROBLEMS.responses(*OWNER),
    )
    async def disable(self, community_id: PathId, app: AppPath, user: CurrentUser, db: Db) -> None:
        await logic.disable(db, community_id, user.id, app)


CONTROLLERS = [AppCatalogueController, AppPricesController, CommunityAppsController]
