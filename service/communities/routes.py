"""HTTP routes of communities: thin handlers over logic.py; `CONTROLLERS` lists every communities route."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post, put
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, QueryParameter

from service.communities import examples, logic, members, paid
from service.communities import models as m
from service.communities.growth_routes import GrowthController
from service.communities.member_routes import (
    InvitesController,
    JoinRequestsController,
    MembersController,
    MyCommunitiesController,
)
from service.communities.order_routes import CommunityOrdersController
from service.communities.params import ADMIN, AUTH, CONTENT, MEMBER, TAG, _user_id, _with_success
from service.communities.problems import PROBLEMS
from service.core.deps import Db, WeChat
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.core.media import sign_answer
from service.core.paging import Cursor, Limit


class CommunitiesController(Controller):
    path = "/communities"
    tags = [TAG]
    security = BEARER_SECURITY

    @post(
        "",
        operation_id="createCommunity",
        summary="Create a community (you become its owner and first member)",
        description=(
            "Tags are trimmed, lower-cased and deduplicated; `welcomeTemplate` may use `{nickname}` and `{community}`; "
            "a paid community needs `priceFen`, and only a paid one may have it. The cover: `coverMediaId`, one of my "
            "uploads (purpose `cover`); `coverUrl` becomes its public link (`coverUrl` itself is no longer taken). "
            "Name, description, tags, `welcomeTemplate` and `introductionPrompt` must pass WeChat's content check "
            "outright (`content_rejected`; `wechat_unavailable`: retry) before anything is stored. "
            "Send an `Idempotency-Key` to retry safely: a retry answers the community created first."
        ),
        status_code=201,
        responses=PROBLEMS.responses(*AUTH, "idempotency_key_reused", "media_rejected", "rate_limited", *CONTENT),
    )
    async def create(
        self,
        data: JSONBody[m.CommunityCreate],
        caller: CurrentUser,
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Community]:
        # `caller`, not `user`: the content check waits on WeChat without holding a pooled connection.
        return await logic.create_community(state.pool, state.wechat, caller.id, data, idempotency_key, state.settings)

    @get(
        "",
        operation_id="discoverCommunities",
        summary="Discover listed communities, newest first, by name or tag",
        responses=PROBLEMS.responses(*AUTH),
    )
    async def discover(
        self,
        user: CurrentUser,
        db: Db,
        q: Annotated[str | None, QueryParameter(max_length=40, description="Part of the name")] = None,
        tag: Annotated[str | None, QueryParameter(max_length=16, description="An exact tag")] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> m.CommunityPage:
        return await logic.discover(db, q, tag, limit, cursor)

    @get(
        "/{community_id:str}",
        operation_id="getCommunity",
        summary="A community, with my membership and my latest join request",
        responses=_with_success(
            (*AUTH, "not_found"),
            {
                200: ResponseSpec(
                    generate_examples=False,
                    data_container=m.Community,
                    description="The community as the caller sees it",
                    examples=examples.example("a member's view", examples.COMMUNITY),
                )
            },
        ),
    )
    async def read(self, community_id: PathId, user: CurrentUser, db: Db) -> m.Community:
        return await logic.get_community(db, community_id, user.id)

    @put(
        "/{community_id:str}",
        operation_id="updateCommunity",
        summary="Edit a community (admins; visibility, entry mode, price and cap: owner only)",
        description=(
            "Only the fields sent change. Admins edit the texts, tags and the welcome and introduction settings; only "
            "the owner changes visibility, entry mode, price, cap, refund window and `collectionsBy`. Leaving paid "
            "entry drops the price; the cap cannot go below the member count (`cap_below_member_count`). "
            "`coverMediaId` sets the cover from one of my uploads, `coverMediaId: null` removes it. A changed name, "
            "description, tag, `welcomeTemplate` or `introductionPrompt` must pass WeChat's content check outright "
            "(`content_rejected`; `wechat_unavailable`: retry); texts sent as they are stored are not checked again."
        ),
        responses=PROBLEMS.responses(*ADMIN, "cap_below_member_count", "media_rejected", *CONTENT),
    )
    async def update(
        self,
        community_id: PathId,
        data: JSONBody[m.CommunityUpdate],
        caller: CurrentUser,
        state: State,
    ) -> m.Community:
        # `caller`, not `user`: the content check waits on WeChat without holding a pooled connection.
        base_url = state.settings.public_base_url
        return await logic.update_community(state.pool, state.wechat, community_id, caller.id, data, base_url)

    @post(
        "/{community_id:str}/join",
        operation_id="joinCommunity",
        summary="Join: free -> member (201), approval -> pending request (202), paid -> order to pay (201/200)",
        description=(
            "A free community admits at once and the welcome robot greets the newcomer; the answer carries the "
            "greeting and the self-introduction prompt. An approval community records a pending request for "
            "the admins. A paid community answers outcome `payment` with the entry order: 201 for a new order, "
            "200 for the still-payable one; pass `order.payment` to wx.requestPayment. The member is admitted "
            "(and welcomed) when WeChat Pay confirms the payment; a payment that finds the community full or "
            "closed, or the payer removed, is refunded in full and the order's refund says why. With "
            "`inviteCode` a valid invite link admits without review (paid communities: still through payment) "
            "and records who referred you. A member joining again gets 200 with outcome `already_member`. Send "
            "an `Idempotency-Key` to retry safely. A full community of a series admits to the next sister with "
            "room, opened if all are full (`communityId` says which); a plain member of another sister gets "
            "`already_in_series` (docs/brands.md)."
        ),
        status_code=201,
        responses=_with_success(
            (
                *AUTH,
                "not_found",
                "payment_required",
                "community_full",
                "already_in_series",
                "member_removed",
                "invite_not_found",
                "invite_expired",
                "invite_used_up",
                "idempotency_key_reused",
                "payment_unavailable",
                "order_already_paid",
                "conflict",
            ),
            {
                201: ResponseSpec(
                    generate_examples=False,
                    data_container=m.JoinResult,
                    description="Admitted (membership and welcome), or a new entry order to pay (paid communities)",
                    examples=examples.example("joined", examples.JOINED),
                ),
                200: ResponseSpec(
                    generate_examples=False,
                    data_container=m.JoinResult,
                    description="Already a member (nothing changed), or the entry order already created",
                    examples=examples.example("already a member", examples.ALREADY),
                ),
                202: ResponseSpec(
                    generate_examples=False,
                    data_container=m.JoinResult,
                    description="Approval needed: a pending request",
                    examples=examples.example("pending approval", examples.PENDING),
                ),
            },
        ),
    )
    async def join(
        self,
        community_id: PathId,
        caller: CurrentUser,
        state: State,
        data: JSONBody[m.JoinBody | None] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.JoinResult]:
        # `caller`, not `user`: a paid join waits on WeChat Pay and must not hold a pooled connection meanwhile.
        # Pool, Pay client and settings come from `state` (free) rather than as more dependencies.
        return await paid.join(state.pool, state.pay, state.settings, community_id, caller.id, data, idempotency_key)

    @post(
        "/{community_id:str}/ownership-transfer",
        operation_id="transferCommunityOwnership",
        summary="Hand the community to another member (owner only); you stay on as an admin",
        description=(
            "`userId` must be an active member: they become the owner and you an admin in one step, recorded in the "
            "audit log. Naming yourself changes nothing. Send an `Idempotency-Key` to retry safely."
        ),
        status_code=200,
        responses=PROBLEMS.responses(*ADMIN, "idempotency_key_reused"),
    )
    async def transfer(
        self,
        community_id: PathId,
        data: JSONBody[m.OwnershipTransfer],
        user: CurrentUser,
        db: Db,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Community]:
        new_owner = _user_id(data.user_id, user, field="userId", source="body")
        return await members.transfer_ownership(db, community_id, user.id, new_owner, idempotency_key)

    @post(
        "/{community_id:str}/introduction",
        operation_id="introduceMyself",
        summary="Post my self-introduction (once per community), marked as an introduction",
        description=(
            "The text becomes my post of kind `introduction` and marks me introduced, which lifts "
            "`introduction_required` for posting. WeChat checks the text like a post's: risky -> 422 "
            "`content_rejected`; review, or WeChat unreachable -> status `pending` (only I see it until it is "
            "passed). Photos (`imageIds`, my uploads) hold it `pending` until WeChat passed each; one refused photo "
            "rejects it. Once per community (`already_introduced`), not while muted; both refused before WeChat is "
            "asked. Send an `Idempotency-Key` to retry safely: a retry answers the introduction made first."
        ),
        status_code=201,
        responses=PROBLEMS.responses(
            *MEMBER,
            "member_muted",
            "already_introduced",
            "idempotency_key_reused",
            "content_rejected",
            "media_rejected",
            "wechat_session_stale",
        ),
    )
    async def introduce(
        self,
        community_id: PathId,
        data: JSONBody[m.IntroductionCreate],
        caller: CurrentUser,
        state: State,
        wechat: WeChat,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Introduction]:
        answer = await members.introduce(state.pool, wechat, community_id, caller.id, data, idempotency_key)
        return await sign_answer(state.storage, answer)

    @post(
        "/{community_id:str}/read",
        operation_id="markCommunityRead",
        summary="I have read this community up to now (resets my unread count)",
        status_code=204,
        responses=PROBLEMS.responses(*MEMBER),
    )
    async def mark_read(self, community_id: PathId, user: CurrentUser, db: Db) -> None:
        await logic.mark_read(db, community_id, user.id)

    @get(
        "/{community_id:str}/newcomers",
        operation_id="listNewcomers",
        summary="Members who joined recently, e.g. those without an introduction (admins)",
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def newcomers(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        days: Annotated[int, QueryParameter(ge=1, le=90, description="Joined within this many days")] = 7,
        introduced: Annotated[
            bool | None, QueryParameter(description="false: only those without an introduction; true: only with one")
        ] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> m.NewcomerPage:
        return await members.newcomers(db, community_id, user.id, days, introduced, limit, cursor)

    @get(
        "/{community_id:str}/audit-log",
        operation_id="readCommunityAuditLog",
        summary="Membership and role changes, newest first (admins)",
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def audit_log(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        action: Annotated[
            str | None,
            QueryParameter(max_length=40, description="Only this action, e.g. member.removed"),
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> m.AuditPage:
        return await members.audit_log(db, community_id, user.id, action, limit, cursor)


CONTROLLERS = [
    CommunitiesController,
    CommunityOrdersController,
    MembersController,
    JoinRequestsController,
    InvitesController,
    MyCommunitiesController,
    GrowthController,
]
