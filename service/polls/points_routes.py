"""HTTP routes of trial places for check-in points: a poll's offer (its admins), redeeming a place (members) and my
points in a brand (over points.py)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post, put
from litestar.params import Body, QueryParameter

from service.core.deps import Db
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import ID_PATTERN, MAX_ID, PathId
from service.polls import examples as ex
from service.polls import models as m
from service.polls import points
from service.polls.problems import PROBLEMS
from service.polls.responses import AUTH, POLL_ADMIN, POLL_MEMBER, POLLS_TAG, TRIALS_TAG, ok

BrandIdQuery = Annotated[
    int,
    QueryParameter(
        name="brandId",
        ge=1,
        le=MAX_ID,
        schema_extra={"type": "string", "pattern": ID_PATTERN},
    ),
]
OFFER_DESCRIPTION = "Where the community's brand lets members spend check-in points (docs/polls.md)."


class PollPointsController(Controller):
    """A poll's trial places for check-in points."""

    path = "/polls"
    tags = [POLLS_TAG]
    security = BEARER_SECURITY

    @put(
        "/{poll_id:str}/trial-points",
        operation_id="setPollTrialPoints",
        summary="Offer trial places for check-in points, or change the offer (admins)",
        description=OFFER_DESCRIPTION + " `places` counts every place sold; a new `price` applies to later ones.",
        tags=[TRIALS_TAG],
        responses={
            **PROBLEMS.responses(*POLL_ADMIN, "points_not_spendable", "points_places_below_redeemed"),
            **ok(200, m.TrialPoints, "The offer (the poll's `trialPoints`)", "offered", ex.OFFERED),
        },
    )
    async def set_offer(
        self,
        poll_id: PathId,
        data: Annotated[m.TrialPointsOffer, Body(examples=ex.example("30 points a place, 10 places", ex.TRIAL_POINTS))],
        user: CurrentUser,
        db: Db,
    ) -> m.TrialPoints:
        return await points.set_offer(db, poll_id, user.id, data)

    @delete(
        "/{poll_id:str}/trial-points",
        operation_id="withdrawPollTrialPoints",
        summary="Stop offering trial places for points (admins); redeemed ones stay",
        description="`app_disabled` while the polls app is off.",
        tags=[TRIALS_TAG],
        responses=PROBLEMS.responses(*POLL_ADMIN),
    )
    async def withdraw_offer(self, poll_id: PathId, user: CurrentUser, db: Db) -> None:
        await points.withdraw_offer(db, poll_id, user.id)

    @post(
        "/{poll_id:str}/trial-redemptions",
        operation_id="redeemTrialWithPoints",
        summary="Spend my check-in points on a trial place of the poll (members, once it closed)",
        description=(
            "Costs `trialPoints.price` of my points in the brand (`GET /v1/me/points`); a trial of reason `redeemed`. "
            "A retry without the same `Idempotency-Key`: `trial_already_held`. Race-free (docs/polls.md)."
        ),
        tags=[TRIALS_TAG],
        status_code=201,
        responses={
            **PROBLEMS.responses(
                *POLL_MEMBER,
                "points_not_spendable",
                "no_points_offer",
                "trial_redemption_closed",
                "trial_already_held",
                "no_places_left",
                "not_enough_points",
                "idempotency_key_reused",
            ),
            **ok(201, m.Trial, "My new qualification", "redeemed", ex.REDEEMED),
        },
    )
    async def redeem(
        self, poll_id: PathId, user: CurrentUser, db: Db, idempotency_key: IdempotencyKey = None
    ) -> Response[m.Trial]:
        return await points.redeem(db, poll_id, user.id, idempotency_key)


class MyPointsController(Controller):
    path = "/me/points"
    tags = [TRIALS_TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="getMyPoints",
        summary="My check-in points in a brand: earned in its communities, spent, available",
        responses={
            **PROBLEMS.responses(*AUTH, "not_found"),
            **ok(200, m.PointsBalance, "My points in the brand", "points", ex.POINTS),
        },
    )
    async def mine(self, user: CurrentUser, db: Db, brand_id: BrandIdQuery) -> m.PointsBalance:
        return await points.my_points(db, brand_id, user.id)
