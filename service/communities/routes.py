"""HTTP routes of communities and membership: thin handlers over logic.py."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from service.communities import examples, logic, paid, payouts
from service.communities import models as m
from service.communities.problems import PROBLEMS
from service.core.deps import Db, WeChat
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import MAX_ID, PathId
from service.core.money.models import Refund
from service.core.paging import Cursor, Limit
from service.errors import FieldError, Problem

TAG = "communities"
AUTH = ("unauthorized", "token_expired")
MEMBER = (*AUTH, "not_found", "not_member")
ADMIN = (*MEMBER, "forbidden")

UserRef = Annotated[
    str,
    PathParameter(
        pattern=r"^(me|[1-9][0-9]{0,15})$(?!\n)",
        description="`me` for yourself (your own settings; DELETE = leave), or a member's user id",
    ),
]


def _user_id(ref: str, user: CurrentUser, field: str = "user_id", source: str = "path") -> int:
    if ref == "me":
        return user.id
    value = int(ref)
    if value > MAX_ID:
        error = FieldError(field=field, message=f"must be `me` or an id up to {MAX_ID}", source=source)
        raise Problem("validation_failed", "invalid user id", errors=[error])
    return value


def _with_success(codes: tuple[str, ...], extra: dict[int, ResponseSpec]) -> dict[int, ResponseSpec]:
    return {**PROBLEMS.responses(*codes), **extra}


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
            "a paid community needs `priceFen`, and only a paid one may have it. Send an `Idempotency-Key` to retry "
            "safely: a retry answers the community created first."
        ),
        status_code=201,
        responses=PROBLEMS.responses(*AUTH, "idempotency_key_reused"),
    )
    async def create(
        self, data: JSONBody[m.CommunityCreate], user: CurrentUser, db: Db, idempotency_key: IdempotencyKey = None
    ) -> Response[m.Community]:
        return await logic.create_community(db, user.id, data, idempotency_key)

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
            "entry drops the price; the cap cannot go below the member count (`cap_below_member_count`)."
        ),
        responses=PROBLEMS.responses(*ADMIN, "cap_below_member_count"),
    )
    async def update(
        self, community_id: PathId, data: JSONBody[m.CommunityUpdate], user: CurrentUser, db: Db
    ) -> m.Community:
        return await logic.update_community(db, community_id, user.id, data)

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
            "an `Idempotency-Key` to retry safely."
        ),
        status_code=201,
        responses=_with_success(
            (
                *AUTH,
                "not_found",
                "payment_required",
                "community_full",
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
        return await logic.transfer_ownership(db, community_id, user.id, new_owner, idempotency_key)

    @post(
        "/{community_id:str}/introduction",
        operation_id="introduceMyself",
        summary="Post my self-introduction (once per community), marked as an introduction",
        description=(
            "The text becomes my post of kind `introduction` and marks me introduced, which lifts "
            "`introduction_required` for posting. WeChat checks the text like a post's: risky -> 422 "
            "`content_rejected`; review, or WeChat unreachable -> status `pending` (only I see it until it is "
            "passed). Once per community (`already_introduced`), not while muted. Send an `Idempotency-Key` to "
            "retry safely."
        ),
        status_code=201,
        responses=PROBLEMS.responses(
            *MEMBER,
            "member_muted",
            "already_introduced",
            "idempotency_key_reused",
            "content_rejected",
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
        return await logic.introduce(state.pool, wechat, community_id, caller.id, data, idempotency_key)

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
        return await logic.newcomers(db, community_id, user.id, days, introduced, limit, cursor)

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
        return await logic.audit_log(db, community_id, user.id, action, limit, cursor)


class MembersController(Controller):
    path = "/communities/{community_id:str}/members"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="listMembers",
        summary="Members, earliest first (members only)",
        responses=PROBLEMS.responses(*MEMBER),
    )
    async def list_members(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        role: Annotated[m.Role | None, QueryParameter(description="Only members with this role")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> m.MemberPage:
        return await logic.list_members(db, community_id, user.id, role, limit, cursor)

    @put(
        "/{user_id:str}",
        operation_id="updateMember",
        summary="`me`: mute notifications, unfollow. Others: promote/demote (owner), mute (admins)",
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def update_member(
        self, community_id: PathId, user_id: UserRef, data: JSONBody[m.MemberUpdate], user: CurrentUser, db: Db
    ) -> m.Membership:
        return await logic.update_member(db, community_id, user.id, _user_id(user_id, user), data)

    @delete(
        "/{user_id:str}",
        operation_id="removeMember",
        summary="`me`: leave the community. Others: remove the member (admins)",
        description=(
            "`me`: leaving twice is fine, and the owner must transfer ownership first (`owner_must_transfer`). Others: "
            "admins remove members, only the owner removes an admin, nobody the owner; a removed member comes back "
            "only through an admin's approval. Either way the member's invite links are revoked."
        ),
        responses=PROBLEMS.responses(*ADMIN, "owner_must_transfer"),
    )
    async def remove_member(
        self,
        community_id: PathId,
        user_id: UserRef,
        user: CurrentUser,
        db: Db,
        reason: Annotated[str, QueryParameter(max_length=200, description="Why the member was removed")] = "",
    ) -> None:
        target = _user_id(user_id, user)
        if target == user.id:
            await logic.leave(db, community_id, user.id)
        else:
            await logic.remove_member(db, community_id, user.id, target, reason)


class JoinRequestsController(Controller):
    path = "/communities/{community_id:str}/join-requests"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="listJoinRequests",
        summary="Join requests, oldest first (admins)",
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def list_requests(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        status: FromQuery[Literal["pending", "approved", "rejected", "cancelled"]] = "pending",
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> m.JoinRequestPage:
        return await logic.list_join_requests(db, community_id, user.id, status, limit, cursor)

    @post(
        "/{request_id:str}/approve",
        operation_id="approveJoinRequest",
        summary="Approve a join request: the applicant is admitted and welcomed (admins)",
        description=(
            "Admits the applicant under the cap (`community_full` when it is reached) and the welcome robot greets "
            "them; an approval also lets back a member an admin removed. Approving an approved request answers it "
            "again; a rejected or cancelled one answers `request_not_pending`."
        ),
        status_code=200,
        responses=PROBLEMS.responses(*ADMIN, "request_not_pending", "community_full", "idempotency_key_reused"),
    )
    async def approve(
        self,
        community_id: PathId,
        request_id: PathId,
        user: CurrentUser,
        db: Db,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.JoinRequest]:
        return await logic.approve_join_request(db, community_id, request_id, user.id, idempotency_key)

    @post(
        "/{request_id:str}/reject",
        operation_id="rejectJoinRequest",
        summary="Reject a join request with a reason the applicant sees (admins)",
        description=(
            "The optional `reason` is kept on the request, where the applicant reads it (`joinRequest` of the "
            "community). Rejecting a rejected request answers it again; an approved or cancelled one answers "
            "`request_not_pending`."
        ),
        status_code=200,
        responses=PROBLEMS.responses(*ADMIN, "request_not_pending"),
    )
    async def reject(
        self,
        community_id: PathId,
        request_id: PathId,
        user: CurrentUser,
        db: Db,
        data: JSONBody[m.RejectBody | None] = None,
    ) -> m.JoinRequest:
        reason = (data or m.RejectBody()).reason
        return await logic.reject_join_request(db, community_id, request_id, user.id, reason)


class InvitesController(Controller):
    path = "/communities/{community_id:str}/invites"
    tags = [TAG]
    security = BEARER_SECURITY

    @post(
        "",
        operation_id="createInvite",
        summary="Create an invite link with an expiry and a use limit (members; admins in approval communities)",
        description="Share the code with the community id; joining with `inviteCode` records you as the referrer.",
        status_code=201,
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def create(self, community_id: PathId, data: JSONBody[m.InviteCreate], user: CurrentUser, db: Db) -> m.Invite:
        return await logic.create_invite(db, community_id, user.id, data)

    @get(
        "",
        operation_id="listInvites",
        summary="Invite links, newest first (admins: all; members: their own)",
        responses=PROBLEMS.responses(*MEMBER),
    )
    async def list_invites(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> m.InvitePage:
        return await logic.list_invites(db, community_id, user.id, limit, cursor)

    @delete(
        "/{code:str}",
        operation_id="revokeInvite",
        summary="Revoke an invite link (its creator or an admin)",
        description=(
            "Admins revoke any link of the community, other members only their own (someone else's code answers "
            "`invite_not_found`). Revoking a revoked link is fine; members who joined through it stay."
        ),
        responses=PROBLEMS.responses(*MEMBER, "invite_not_found"),
    )
    async def revoke(
        self,
        community_id: PathId,
        code: Annotated[str, PathParameter(pattern=r"^[A-Za-z0-9_-]{6,32}$(?!\n)", description="The invite code")],
        user: CurrentUser,
        db: Db,
    ) -> None:
        await logic.revoke_invite(db, community_id, user.id, code)


class MyCommunitiesController(Controller):
    path = "/me/communities"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="listMyCommunities",
        summary="My communities, most recently active first, with my unread counts",
        description=(
            "Unread counts visible posts by others since my last `POST /v1/communities/{id}/read` (or since I "
            "joined), up to 100. The order follows activity, so a community can move between pages while you "
            "page through."
        ),
        responses=_with_success(
            AUTH,
            {
                200: ResponseSpec(
                    generate_examples=False,
                    data_container=m.MyCommunityPage,
                    description="A page of my communities",
                    examples=examples.example("one community with unread posts", examples.MY_COMMUNITIES),
                )
            },
        ),
    )
    async def list_mine(self, user: CurrentUser, db: Db, limit: Limit = 20, cursor: Cursor = None) -> m.MyCommunityPage:
        return await logic.my_communities(db, user.id, limit, cursor)


class CommunityOrdersController(Controller):
    """Paid entry seen from the community: its orders, admin refunds and the owner's earnings (admins)."""

    path = "/communities/{community_id:str}"
    tags = ["checkout"]
    security = BEARER_SECURITY

    @get(
        "/orders",
        operation_id="listCommunityOrders",
        summary="The community's entry orders, newest first, with payer and refunds (admins)",
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def list_orders(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        status: Annotated[
            Literal["created", "paid", "refunded", "closed"] | None,
            QueryParameter(description="Only orders in this state"),
        ] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> m.EntryOrderPage:
        return await paid.entry_orders(db, community_id, user.id, status, limit, cursor)

    @post(
        "/orders/{order_id:str}/refund",
        operation_id="refundCommunityOrder",
        summary="Refund an entry order with a reason the payer sees (admins); a full refund ends the membership",
        description=(
            "Admins refund at any time (no refund window) until the owner withdraws the payment (`order_paid_out`): "
            "what is left of the payment, or `amountFen` of it. A refund "
            "of the whole fee ends the payer's membership, so the owner's own entry order answers "
            "`owner_must_transfer`; a partial one keeps it. A job submits the refund to WeChat Pay; send an "
            "`Idempotency-Key` to retry safely."
        ),
        status_code=201,
        responses=PROBLEMS.responses(
            *ADMIN, "order_not_paid", "order_paid_out", "owner_must_transfer", "idempotency_key_reused"
        ),
    )
    async def refund_order(
        self,
        community_id: PathId,
        order_id: PathId,
        data: JSONBody[m.EntryRefundCreate],
        user: CurrentUser,
        db: Db,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Refund]:
        return await paid.refund_entry(db, community_id, order_id, user.id, data, idempotency_key)

    @get(
        "/earnings",
        operation_id="getCommunityEarnings",
        summary="Entry fees retained and the part still inside refund windows, not withdrawable yet (admins)",
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def earnings(self, community_id: PathId, user: CurrentUser, db: Db) -> m.Earnings:
        return await paid.earnings(db, community_id, user.id)

    @post(
        "/payouts",
        operation_id="withdrawCommunityEarnings",
        summary="Withdraw the community's withdrawable entry fees to me by merchant transfer (owner)",
        description=(
            "Takes every entry payment past its refund window with no refund in flight (`withdrawableFen` of the "
            "earnings), oldest first, up to 1,999.99 yuan per payout; what is left waits for the next. Those "
            "payments can no longer be refunded (`order_paid_out`). Confirm the transfer in the mini program "
            "with `wx.requestMerchantTransfer` (`GET /v1/transfers/{transferId}`); a transfer that fails or is "
            "not confirmed in 24 hours fails the payout and makes its money withdrawable again. Send an "
            "`Idempotency-Key` to retry safely."
        ),
        status_code=201,
        responses=PROBLEMS.responses(*ADMIN, "nothing_to_withdraw", "payout_too_large", "idempotency_key_reused"),
    )
    async def withdraw(
        self, community_id: PathId, user: CurrentUser, db: Db, idempotency_key: IdempotencyKey = None
    ) -> Response[m.Payout]:
        return await payouts.withdraw(db, community_id, user.id, idempotency_key)

    @get(
        "/payouts",
        operation_id="listCommunityPayouts",
        summary="The community's payouts to its owners, newest first (admins)",
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def list_payouts(
        self, community_id: PathId, user: CurrentUser, db: Db, limit: Limit = 20, cursor: Cursor = None
    ) -> m.PayoutPage:
        return await payouts.list_payouts(db, community_id, user.id, limit, cursor)


CONTROLLERS = [
    CommunitiesController,
    CommunityOrdersController,
    MembersController,
    JoinRequestsController,
    InvitesController,
    MyCommunitiesController,
]
