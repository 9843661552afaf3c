"""HTTP routes of the growth loop on a community: the referral leaderboard and invite posters (growth.py)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.params import PathParameter, QueryParameter

from service.communities import growth
from service.communities import models as m
from service.communities.params import MEMBER, TAG
from service.communities.problems import PROBLEMS
from service.core.deps import AppSettings, Db, Store, WeChat
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.ids import PathId

InviteCode = Annotated[str, PathParameter(pattern=r"^[A-Za-z0-9_-]{6,32}$(?!\n)", description="The invite code")]


class GrowthController(Controller):
    path = "/communities/{community_id:str}"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "/referrals",
        operation_id="referralLeaderboard",
        summary="Who brought the most members in (members only)",
        description=(
            "Referrals credited to each member: someone admitted for the first time through their invite link or "
            "their share (`shareCode`), for paid entry once paid. Never for oneself, never twice for one member; "
            "only referrer and referred who are still members count. Each also weighs in the member tier of "
            "reward pools (CONTRIBUTION_REFERRAL, docs/growth.md)."
        ),
        responses=PROBLEMS.responses(*MEMBER),
    )
    async def referrals(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        limit: Annotated[int, QueryParameter(ge=1, le=100, description="How many leaders (1-100)")] = 20,
    ) -> m.ReferralLeaderboard:
        return await growth.referral_leaderboard(db, community_id, user.id, limit)

    @get(
        "/invites/{code:str}/poster",
        operation_id="getInvitePoster",
        summary="An invite link's mini-program code as a PNG (its creator, or an admin)",
        description=(
            "WeChat's unlimited mini-program code (wxacode.getUnlimited) opening the join page (INVITE_PAGE) with "
            "the scene `<community id>.<invite code>`: the page joins with that `inviteCode`. Drawn once per "
            "invite and kept; a revoked, expired or used-up link answers its code."
        ),
        media_type="image/png",
        responses=PROBLEMS.responses(
            *MEMBER, "invite_not_found", "invite_expired", "invite_used_up", "wechat_unavailable", "wechat_error"
        ),
    )
    async def poster(
        self,
        community_id: PathId,
        code: InviteCode,
        caller: CurrentUser,
        state: State,
        wechat: WeChat,
        storage: Store,
        settings: AppSettings,
    ) -> Response[bytes]:
        png = await growth.invite_poster(state.pool, wechat, storage, settings, community_id, caller.id, code)
        return Response(png, media_type="image/png", headers={"cache-control": "private, max-age=3600"})
