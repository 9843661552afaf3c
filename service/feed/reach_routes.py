"""HTTP routes of the groups a share reached (reach.py): an opener records the group, admins read the reach."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

from service.core.deps import AppSettings, Db
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.ids import PathId
from service.feed import models as m
from service.feed import reach
from service.feed.routes import ADMIN, AUTH, TAG, SharePathCode, _with

REACH_LIMIT_MAX = 100


class ShareGroupOpensController(Controller):
    path = "/shares/{code:str}"
    tags = [TAG]
    security = BEARER_SECURITY

    @post(
        "/group-opens",
        operation_id="recordShareGroupOpen",
        summary="Record that a share reached a WeChat group: the opener's wx.getShareInfo data (any signed-in user)",
        description=(
            "Call it when the mini program was opened from a share's card in a group chat: the launch options carry "
            "the share's `code` (in the page's query) and a `shareTicket`; send what `wx.getShareInfo({shareTicket})` "
            "answered. It is decrypted with the session of your latest login and its group (openGId, kept only as a "
            "digest) recorded for the share: one record per share and group, each open counted. Members and not-yet "
            "members alike. `invalid_open_data`: the data is not from your latest login (or is forged, or for another "
            "mini program): call wx.login, log in, call getShareInfo again and retry. A share whose post is not "
            "visible answers 404 as an unknown code does. Limited per member (`rate_limited`)."
        ),
        status_code=200,
        responses=_with(
            (*AUTH, "not_found", "rate_limited", "invalid_open_data", "not_group_share_info"), m.GroupOpen, "Recorded"
        ),
    )
    async def record(
        self,
        code: SharePathCode,
        data: JSONBody[m.GroupOpenCreate],
        user: CurrentUser,
        db: Db,
        state: State,
        settings: AppSettings,
    ) -> m.GroupOpen:
        return await reach.record_group_open(db, state.session_keys, settings, code, user.id, data)


class ShareReachController(Controller):
    path = "/communities/{community_id:str}"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "/share-reach",
        operation_id="getShareReach",
        summary="How many WeChat groups the community's shares reached (admins)",
        description=(
            "Distinct WeChat group chats any of the community's shares was opened in (recorded by POST "
            "/v1/shares/{code}/group-opens), the opens recorded, and the shares that reached the most groups first "
            "(`limit`). A share reaching many groups is what the gather stage wants more of (docs/growth.md)."
        ),
        responses=_with(ADMIN, m.ShareReach, "The reach"),
    )
    async def share_reach(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        limit: Annotated[
            int, QueryParameter(ge=1, le=REACH_LIMIT_MAX, description=f"How many shares (1-{REACH_LIMIT_MAX})")
        ] = 20,
    ) -> m.ShareReach:
        return await reach.share_reach(db, community_id, user.id, limit)


CONTROLLERS = [ShareGroupOpensController, ShareReachController]
