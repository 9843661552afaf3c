"""HTTP routes of the inbox: thin handlers over logic.py."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import JSONBody

from service.core.deps import Db
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.paging import Cursor, Limit, Since
from service.core.problems import SHARED
from service.inbox import examples as ex
from service.inbox import logic
from service.inbox import models as m
from service.openapi import answer

AUTH = ("unauthorized", "token_expired")


class InboxController(Controller):
    path = "/me/notifications"
    tags = ["inbox"]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="listNotifications",
        summary="My inbox across my communities, newest first, with the unread count",
        description=(
            "Never my own actions. Likes on a post are one item (`count`, the latest liker) that rises to the top "
            "with each new like (a member's first: liking again after an unlike tells nothing); its `count` follows "
            "the post's likes without rising, and it is withdrawn when they are back to 0. Items of a "
            "community whose notifications I muted are listed but not counted. Read "
            "items older than INBOX_KEEP_DAYS (30) are purged, and unread ones INBOX_UNREAD_KEEP_DAYS (90) after they "
            "arrived (a likes item: after its latest like). After a live `notification` event or a return from the "
            "background, `since` (the newest id I have) answers only the newer items, oldest first (docs/live.md)."
        ),
        responses={**SHARED.responses(*AUTH), **answer(200, ex.PAGE, "a reply and likes", "My inbox")},
    )
    async def page(
        self, user: CurrentUser, db: Db, limit: Limit = 20, cursor: Cursor = None, since: Since = None
    ) -> m.NotificationPage:
        return await logic.page(db, user.id, limit, cursor, since)

    @get(
        "/unread-count",
        operation_id="countUnreadNotifications",
        summary="The badge: my unread inbox items (muted communities left out)",
        responses={**SHARED.responses(*AUTH), **answer(200, ex.UNREAD, "three unread", "The unread count")},
    )
    async def unread(self, user: CurrentUser, db: Db) -> m.Unread:
        return await logic.unread(db, user.id)

    @post(
        "/read",
        operation_id="markNotificationsRead",
        summary="Mark items read: all up to one (`upToId`), or some (`ids`); answers the new unread count",
        status_code=200,
        responses={**SHARED.responses(*AUTH), **answer(200, ex.UNREAD, "three unread", "The unread count")},
    )
    async def mark(self, data: JSONBody[m.MarkRead], user: CurrentUser, db: Db) -> m.Unread:
        return await logic.mark_read(db, user.id, data)


CONTROLLERS = [InboxController]
