"""HTTP routes of membership: members, join requests, invites and my communities; thin handlers over logic.py."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Response, delete, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from service.communities import examples, joining, logic, members, profiles
from service.communities import models as m
from service.communities import profile_models as pm
from service.communities.params import ADMIN, AUTH, MEMBER, TAG, UserRef, _user_id, _with_success
from service.communities.problems import PROBLEMS
from service.core.deps import AppSettings, Db
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.core.paging import Cursor, Limit


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
        q: Annotated[
            str | None,
            QueryParameter(min_length=1, max_length=20, description="Only members whose nickname contains this"),
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> m.MemberPage:
        return await members.list_members(db, community_id, user.id, role, limit, cursor, q)

    @get(
        "/{user_id:str}",
        operation_id="getMemberProfile",
        summary="A member's profile: nickname, role, joined at, introduction, contribution figures (members only)",
        description=(
            "Contribution: valid posts and comments (as contribution scores count them), essence posts, check-ins "
            "with points and streaks. Their posts: GET .../members/{user_id}/posts. A user who does not stand in the "
            "community answers 404; the brand's team stands there member or not, as `admin` (docs/search.md)."
        ),
        responses=PROBLEMS.responses(*MEMBER),
    )
    async def profile(self, community_id: PathId, user_id: UserRef, user: CurrentUser, db: Db) -> pm.MemberProfile:
        return await profiles.profile(db, community_id, user.id, _user_id(user_id, user))

    @put(
        "/{user_id:str}",
        operation_id="updateMember",
        summary="`me`: mute notifications, unfollow. Others: promote/demote (owner), mute (admins)",
        description=(
            "In a series, an admin who is a plain member of a sister community is not demoted here "
            "(`already_in_series`: one plain membership per series, docs/brands.md)."
        ),
        responses=PROBLEMS.responses(*ADMIN, "already_in_series"),
    )
    async def update_member(
        self, community_id: PathId, user_id: UserRef, data: JSONBody[m.MemberUpdate], user: CurrentUser, db: Db
    ) -> m.Membership:
        return await members.update_member(db, community_id, user.id, _user_id(user_id, user), data)

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
            await members.leave(db, community_id, user.id)
        else:
            await members.remove_member(db, community_id, user.id, target, reason)


class JoinRequestsController(Controller):
    path = "/communities/{community_id:str}/join-requests"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="listJoinRequests",
        summary="Join requests, oldest first (admins)",
        description=(
            "`pending` leaves out a request whose applicant is an active member already (came in another way): "
            "it is settled, and rejecting it cancels it."
        ),
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
        return await joining.list_join_requests(db, community_id, user.id, status, limit, cursor)

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
        responses=PROBLEMS.responses(
            *ADMIN, "request_not_pending", "community_full", "already_in_series", "idempotency_key_reused"
        ),
    )
    async def approve(
        self,
        community_id: PathId,
        request_id: PathId,
        user: CurrentUser,
        db: Db,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.JoinRequest]:
        return await joining.approve_join_request(db, community_id, request_id, user.id, idempotency_key)

    @post(
        "/{request_id:str}/reject",
        operation_id="rejectJoinRequest",
        summary="Reject a join request with a reason the applicant sees (admins)",
        description=(
            "The optional `reason` is kept on the request, where the applicant reads it (`joinRequest` of the "
            "community). Rejecting a rejected request answers it again; an approved or cancelled one answers "
            "`request_not_pending`. A pending request of someone who is an active member already is cancelled "
            "instead (answered with status `cancelled`): a member gets no rejection notice."
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
        return await joining.reject_join_request(db, community_id, request_id, user.id, reason)


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
        responses=PROBLEMS.responses(*ADMIN, "member_muted", "rate_limited"),
    )
    async def create(
        self, community_id: PathId, data: JSONBody[m.InviteCreate], user: CurrentUser, db: Db, settings: AppSettings
    ) -> m.Invite:
        return await joining.create_invite(db, settings, community_id, user.id, data)

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
        return await joining.list_invites(db, community_id, user.id, limit, cursor)

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
        await joining.revoke_invite(db, community_id, user.id, code)


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
