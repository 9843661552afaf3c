"""HTTP routes of group collections: thin handlers over logic.py."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

from service.collections import closing, logic
from service.collections import models as m
from service.collections.problems import PROBLEMS
from service.core.deps import Db
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.core.money.examples import ORDER
from service.core.money.models import Order
from service.core.paging import Cursor, Limit
from service.openapi import answer, documenter

TAG = "collections"
MEMBER = ("unauthorized", "token_expired", "not_found", "not_member")
# The title and the cancel reason pass WeChat's content check (service/core/content.py).
CONTENT = ("content_rejected", "wechat_session_stale", "wechat_unavailable", "wechat_error")
doc = documenter(PROBLEMS)
# A share's order as the mini program receives it (the core's example, bought for a collection).
_SHARE = msgspec.structs.replace(ORDER, purpose="collection_share", description="群收款：周六聚餐 AA")


class CommunityCollectionsController(Controller):
    path = "/communities/{community_id:str}/collections"
    tags = [TAG]
    security = BEARER_SECURITY

    @post(
        "",
        status_code=201,
        **doc(
            "startCollection",
            "Start a group collection: each participant pays amountFen before the deadline (members)",
            *(*MEMBER, "app_disabled", "forbidden", "member_muted", "blocked", "validation_failed"),
            *("idempotency_key_reused", *CONTENT),
        ),
    )
    async def start(
        self,
        community_id: PathId,
        data: JSONBody[m.CollectionCreate],
        caller: CurrentUser,
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Collection]:
        """Participants are the chosen active members, or every other active member who has not blocked you; naming
        one who blocked you answers `blocked`, and a member an admin muted starts none (`member_muted`: the title
        reaches every participant). After the deadline (default 24
        hours) the worker settles it: the money paid goes to you by merchant transfer (confirm it with
        wx.requestMerchantTransfer, see `transferId`) and unpaid shares expire. If by then you are no longer an
        active member of the community, it is cancelled instead (`cancelCause: initiator_left`) and every payer
        refunded. Where the community's `collectionsBy`
        is `admins`, only admins start collections. The brand's team starts one only once joined (`not_member`: only
        a member is paid out). The title is content-checked (`content_rejected`): it reaches
        every participant's inbox and their WeChat Pay order."""
        # `caller`, not `user`: the content check waits on WeChat without holding a pooled connection.
        return await logic.create_collection(
            state.pool, state.wechat, state.settings, community_id, caller.id, data, idempotency_key
        )

    @get(
        "",
        **doc(
            "listCollections",
            "The community's collections, newest first, with my share (members)",
            *MEMBER,
            "app_disabled",
        ),
    )
    async def list_collections(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        status: Annotated[
            m.CollectionStatus | None, QueryParameter(description="Only collections in this state")
        ] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> m.CollectionPage:
        """`app_disabled` while the collections app is off; each collection stays readable by its id."""
        return await logic.list_collections(db, community_id, user.id, status, limit, cursor)


class CollectionsController(Controller):
    path = "/collections"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "/{collection_id:str}",
        **doc(
            "getCollection",
            "A collection's progress: who paid, the total, my share (members of its community)",
            *MEMBER,
        ),
    )
    async def read(self, collection_id: PathId, user: CurrentUser, db: Db) -> m.Collection:
        return await logic.get_collection(db, collection_id, user.id)

    @post(
        "/{collection_id:str}/pay",
        status_code=201,
        **doc(
            "payCollectionShare",
            "Pay my share: the order with wx.requestPayment data (201 new, 200 the still-payable one)",
            *(*MEMBER, "app_disabled", "not_participant", "share_already_paid", "collection_closed", "initiator_left"),
            *("idempotency_key_reused", "payment_unavailable", "order_already_paid", "conflict"),
            ok={
                **answer(201, _SHARE, "a new order for my share", "The order to pay with wx.requestPayment"),
                **answer(200, _SHARE, "asked again", "The still-payable order of my share, the same as before"),
            },
        ),
    )
    async def pay(
        self, collection_id: PathId, caller: CurrentUser, state: State, idempotency_key: IdempotencyKey = None
    ) -> Response[Order]:
        """Only the collection's participants, once each, before the deadline, while its initiator is an active member
        of the community (`initiator_left` otherwise: see `initiatorActive`). A payment that arrives after the
        deadline, after a cancel or while the initiator is gone is refunded automatically (the order's refund says
        why)."""
        # `caller`, not `user`: placing the order waits on WeChat Pay without holding a pooled connection.
        return await logic.pay_share(state.pool, state.pay, state.settings, collection_id, caller.id, idempotency_key)

    @post(
        "/{collection_id:str}/cancel",
        status_code=200,
        **doc(
            "cancelCollection",
            "Cancel an open collection (initiator or admins): every payer is refunded",
            *(*MEMBER, "forbidden", "collection_settled", "idempotency_key_reused", *CONTENT),
        ),
    )
    async def cancel(
        self,
        collection_id: PathId,
        caller: CurrentUser,
        state: State,
        data: JSONBody[m.CollectionCancel | None] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Collection]:
        """While it is open: every paid share is refunded in full (a job submits the refunds, whose reason names the
        cancellation) and the orders still payable are closed. Cancelling a cancelled collection answers it again; a
        settled one, or one being settled, answers `collection_settled`. A reason is content-checked
        (`content_rejected`): it reaches the payers' inboxes and their refunds."""
        # `caller`, not `user`: the content check waits on WeChat without holding a pooled connection.
        return await closing.cancel(
            state.pool, state.wechat, collection_id, caller.id, data or m.CollectionCancel(), idempotency_key
        )


CONTROLLERS = [CommunityCollectionsController, CollectionsController]
