"""HTTP routes of the feed: thin handlers over reading.py, posts.py, comments.py and reactions.py.

Read routes take only `caller` (the token, no connection) and `state`: the logic uses the pool for its one
statement, so Litestar resolves one cheap dependency. Write routes that wait on WeChat's content check take
`caller` too and never hold a connection while WeChat answers.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from service.core.deps import AppSettings, Db, WeChat
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.ids import MAX_ID, PathId
from service.core.media import sign_answer
from service.core.paging import Cursor, Since
from service.feed import comments, for_you, posts, reactions, reading, sharing
from service.feed import models as m
from service.feed.problems import PROBLEMS

TAG = "feed"
AUTH = ("unauthorized", "token_expired")
MEMBER = (*AUTH, "not_found", "not_member")
ADMIN = (*MEMBER, "forbidden")
WRITE = (*MEMBER, "member_muted", "introduction_required", "rate_limited", "content_rejected", "wechat_session_stale")
MENTIONS = ("too_many_mentions", "mention_not_member", "blocked")  # `blocked`: a mentioned (or answered) member

SharePathCode = Annotated[str, PathParameter(pattern=r"^[A-Za-z0-9_-]{8,32}$(?!\n)", description="The share's code")]
FeedLimit = Annotated[int, QueryParameter(ge=1, le=m.FEED_LIMIT_MAX, description=f"Page size (1-{m.FEED_LIMIT_MAX})")]


def _ok(model: type, description: str, status: int = 200) -> dict[int, ResponseSpec]:
    return {status: ResponseSpec(generate_examples=False, data_container=model, description=description)}


def _with(codes: tuple[str, ...], model: type, description: str, status: int = 200) -> dict[int, ResponseSpec]:
    return {**PROBLEMS.responses(*codes), **_ok(model, description, status)}


class CommunityFeedController(Controller):
    path = "/communities/{community_id:str}"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "/feed",
        operation_id="getCommunityFeed",
        summary="A community's feed, latest or hot (members only)",
        description=(
            "`latest`: newest first, keyset cursor on (created time, id): pages never repeat or skip a post, "
            "whatever is posted meanwhile (new posts appear when you start again from the first page). "
            "`hot`: by the time-decayed score (likes + 2 comments + 3 shares + 1) x 2^(-age in hours / 24) "
            "(docs/feed.md), keyset cursor on (score rank, id). Each item carries its author, counts, whether I "
            "liked it, the essence flag and its first comments. My own pending posts are included, marked. "
            "Pages may be up to `FEED_CACHE_SECONDS` (1 s) behind other members' writes, plus `REPLICA_MAX_LAG` (1 s) "
            "where a read replica serves them; my own writes, my likes and my standing are always current "
            "(docs/feed.md, the page cache). Posts and comments of members I "
            "blocked are left out: a page may then hold fewer items than `limit` while `nextCursor` goes on. "
            "`since` (the newest post id I have, after a live `post` event or a return from the background) answers "
            "only the newer posts, oldest first, whatever the `order`, never from the cache (docs/live.md)."
        ),
        responses=_with(MEMBER, m.FeedPage, "A page of posts"),
    )
    async def feed(
        self,
        community_id: PathId,
        caller: CurrentUser,
        state: State,
        order: FromQuery[m.FeedOrder] = m.FEED_ORDER_DEFAULT,
        limit: FeedLimit = m.FEED_LIMIT_DEFAULT,
        cursor: Cursor = None,
        since: Since = None,
    ) -> Response[m.FeedPage]:
        return await reading.feed_of(state, community_id, caller.id, order, limit, cursor, since)

    @get(
        "/for-you",
        operation_id="getForYouFeed",
        summary="My for-you feed in a community: hot posts, those on my interests lifted (members only)",
        description=(
            "The hot order's score plus 1 x how well the post's keywords match my interests (0-1: my weight for its "
            "tags over my strongest tag's, capped at 1), for other members' posts of the last 30 days; my interests "
            "are the tags of `getMyInterests` (docs/interests.md). Without interests: the hot order. Keyset cursor on "
            "(rank, id), as the feed's; posts of members I blocked are left out; pinned notices are ranked like any "
            "post. A post's keywords count once the interests job read it (about a minute)."
        ),
        responses=_with(MEMBER, m.FeedPage, "A page of posts"),
    )
    async def for_you_feed(
        self, community_id: PathId, caller: CurrentUser, state: State, limit: FeedLimit = 20, cursor: Cursor = None
    ) -> Response[m.FeedPage]:
        page = await for_you.for_you(state.pool, community_id, caller.id, limit, cursor)
        return await sign_answer(state.storage, page)

    @get(
        "/essence",
        operation_id="getCommunityEssence",
        summary="The community's essence posts, most recently marked first (members only)",
        responses=_with(MEMBER, m.FeedPage, "A page of essence posts"),
    )
    async def essence(
        self, community_id: PathId, caller: CurrentUser, state: State, limit: FeedLimit = 20, cursor: Cursor = None
    ) -> Response[m.FeedPage]:
        return await sign_answer(
            state.storage, await reading.essence(state.pool, community_id, caller.id, limit, cursor)
        )

    @post(
        "/posts",
        operation_id="createPost",
        summary="Post in a community: text (checked by WeChat), up to 9 uploaded photos, a link to a product or poll",
        description=(
            "WeChat's content check decides: pass -> visible (201, status `visible`); review -> held (201, status "
            "`pending`, only you see it); risky -> 422 `content_rejected`. When WeChat cannot be reached the post "
            "is kept `pending` and checked again by a job. Photos (`imageIds`, your uploads) are checked by WeChat "
            "too: the post stays `pending` until every one passed, and one refused photo turns it `rejected` "
            "(422 `media_rejected` when it was refused before you posted). New members have limits in their first "
            "24 hours (429 `rate_limited` with Retry-After; docs/feed.md). `mentions`: members of the community, told "
            "in their inbox once the post is visible (docs/safety.md)."
        ),
        status_code=201,
        responses=_with((*WRITE, *MENTIONS, "media_rejected"), m.FeedItem, "The post as you see it", 201),
    )
    async def create_post(
        self, community_id: PathId, data: JSONBody[m.PostCreate], caller: CurrentUser, state: State, wechat: WeChat
    ) -> Response[m.FeedItem]:
        created = await posts.create_post(state.pool, wechat, state.settings, community_id, caller.id, data)
        return await sign_answer(state.storage, created)


class MyFeedController(Controller):
    path = "/feed"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="getMyFeed",
        summary="My feed: the latest posts of the communities I follow",
        description=(
            "Communities I am an active member of, except those I unfollowed or muted (they stay readable in "
            "their own feed). Newest first; the cursor is stable like the community feed's."
        ),
        responses=_with(AUTH, m.FeedPage, "A page of posts"),
    )
    async def my_feed(
        self, caller: CurrentUser, state: State, limit: FeedLimit = 20, cursor: Cursor = None
    ) -> Response[m.FeedPage]:
        return await sign_answer(state.storage, await reading.my_feed(state.pool, caller.id, limit, cursor))


class PostsController(Controller):
    path = "/posts/{post_id:str}"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="getPost",
        summary="One post (members of its community; a pending or rejected post only to its author)",
        responses=_with(MEMBER, m.FeedItem, "The post"),
    )
    async def read(self, post_id: PathId, caller: CurrentUser, state: State) -> Response[m.FeedItem]:
        return await sign_answer(state.storage, await reading.get_post(state.pool, post_id, caller.id))

    @put(
        "",
        operation_id="updatePost",
        summary="Edit my post within the edit window (15 minutes by default); new text or photos are checked again",
        description=(
            "Only the author, within POST_EDIT_WINDOW seconds (900) of posting, and only while allowed to post (not "
            "muted, introduced where asked). A changed text is checked by WeChat like a new post: risky -> "
            "`content_rejected`, review -> the post is `pending` again. `imageIds` replaces the photos (your uploads, "
            "in order; `[]` removes them): the post is judged again like a new one and stays `pending` until WeChat "
            "passed every new photo; photos it no longer shows are deleted unless something else shows them. "
            "Newcomers may not add links past their limit. `mentions` replaces the mentions: only members not "
            "mentioned before are told. A post removed or refused, or waiting for an admin's review (held by WeChat's "
            "check, hidden by reports), is not edited: `post_not_editable`."
        ),
        responses=_with(
            (*WRITE, *MENTIONS, "forbidden", "edit_window_closed", "post_not_editable", "media_rejected"),
            m.FeedItem,
            "The post as you see it",
        ),
    )
    async def update(
        self, post_id: PathId, data: JSONBody[m.PostUpdate], caller: CurrentUser, state: State, wechat: WeChat
    ) -> Response[m.FeedItem]:
        updated = await posts.update_post(state.pool, wechat, state.settings, post_id, caller.id, data)
        return await sign_answer(state.storage, updated)

    @delete(
        "",
        operation_id="deletePost",
        summary="Delete a post (its author or an admin); kept for audit, gone from every feed",
        description=(
            "Its photos are deleted with it, from storage too (by a job, moments later), unless something else alive "
            "shows the same upload (e.g. the trial feedback a shared post came from)."
        ),
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def remove(self, post_id: PathId, user: CurrentUser, db: Db) -> None:
        await posts.delete_post(db, post_id, user.id)

    @post(
        "/comments",
        operation_id="createComment",
        summary="Comment on a post, or reply to a comment (`parentId`); checked by WeChat like a post",
        description=(
            "`parentId` answers a comment; a reply to a reply joins its thread. WeChat's check decides as for posts: "
            "pass -> visible, review -> pending (only you see it), risky -> `content_rejected`, WeChat unreachable -> "
            "pending and checked again by a job. A photo (`imageId`, your upload) holds the comment `pending` until "
            "WeChat passed it; a refused one turns it `rejected`. The post must be visible; newcomers' limits apply "
            "(`rate_limited` with Retry-After). A member who blocked you: you cannot comment on their post nor reply "
            "to them (403 `blocked`), nor mention them. A blocked member's comments are left out of your lists."
        ),
        status_code=201,
        responses=_with((*WRITE, *MENTIONS, "media_rejected"), m.Comment, "The comment as you see it", 201),
    )
    async def comment(
        self, post_id: PathId, data: JSONBody[m.CommentCreate], caller: CurrentUser, state: State, wechat: WeChat
    ) -> Response[m.Comment]:
        created = await comments.create_comment(state.pool, wechat, state.settings, post_id, caller.id, data)
        return await sign_answer(state.storage, created)

    @get(
        "/comments",
        operation_id="listComments",
        summary="Comment threads of a post, oldest first, each with its first replies; or one thread's replies",
        responses=_with(MEMBER, m.CommentPage, "A page of comments"),
    )
    async def comments(
        self,
        post_id: PathId,
        caller: CurrentUser,
        state: State,
        parent_id: Annotated[
            int | None,
            QueryParameter(
                name="parentId",
                ge=1,
                le=MAX_ID,
                description="List the replies of this thread instead (not_found once the thread is deleted)",
            ),
        ] = None,
        limit: FeedLimit = 20,
        cursor: Cursor = None,
    ) -> Response[m.CommentPage]:
        page = await reading.list_comments(state.pool, post_id, caller.id, parent_id, limit, cursor)
        return await sign_answer(state.storage, page)

    @put(
        "/like",
        operation_id="likePost",
        summary="Like a post (idempotent)",
        responses=_with(MEMBER, m.LikeState, "Liked"),
    )
    async def like(self, post_id: PathId, user: CurrentUser, db: Db) -> m.LikeState:
        return await reactions.like(db, post_id, user.id)

    @delete(
        "/like",
        operation_id="unlikePost",
        summary="Take my like back (idempotent)",
        status_code=200,
        responses=_with(MEMBER, m.LikeState, "Not liked"),
    )
    async def unlike(self, post_id: PathId, user: CurrentUser, db: Db) -> m.LikeState:
        return await reactions.unlike(db, post_id, user.id)

    @post(
        "/share",
        operation_id="sharePost",
        summary="Share a post: a code for its link, attributed to me, and where it went (chat, group, ...)",
        description=(
            "Each share answers its own `code`: the link carries it, anyone opens its public preview "
            "(GET /v1/shares/{code}), and whoever joins with `shareCode` is credited to me as a referral."
        ),
        status_code=201,
        responses=_with(MEMBER, m.Share, "The share", 201),
    )
    async def share(self, post_id: PathId, data: JSONBody[m.ShareCreate], user: CurrentUser, db: Db) -> m.Share:
        return await reactions.share(db, post_id, user.id, data)

    @put(
        "/essence",
        operation_id="markEssence",
        summary="Mark a post as essence (admins; idempotent)",
        responses=_with(ADMIN, m.EssenceState, "Essence"),
    )
    async def mark_essence(self, post_id: PathId, user: CurrentUser, db: Db) -> m.EssenceState:
        return await reactions.set_essence(db, post_id, user.id, True)

    @delete(
        "/essence",
        operation_id="unmarkEssence",
        summary="Take a post out of the essence (admins; idempotent)",
        status_code=200,
        responses=_with(ADMIN, m.EssenceState, "Not essence"),
    )
    async def unmark_essence(self, post_id: PathId, user: CurrentUser, db: Db) -> m.EssenceState:
        return await reactions.set_essence(db, post_id, user.id, False)


class CommentsController(Controller):
    path = "/comments/{comment_id:str}"
    tags = [TAG]
    security = BEARER_SECURITY

    @delete(
        "",
        operation_id="deleteComment",
        summary="Delete a comment (its author or an admin); kept for audit",
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def remove(self, comment_id: PathId, user: CurrentUser, db: Db) -> None:
        await comments.delete_comment(db, comment_id, user.id)


class SharesController(Controller):
    """A shared link opened by anyone: no token needed (a member's or a stranger's is ignored)."""

    path = "/shares"
    tags = [TAG]

    @get(
        "/{code:str}",
        operation_id="getSharePreview",
        summary="The public preview of a shared post: an excerpt, its author, the community's card, how to join",
        description=(
            f"Anyone may open it, without a token. The post's first {m.EXCERPT_MAX} characters, its author's "
            "nickname, the sharer's nickname, the community's public card (name, cover, member count, entry mode "
            "and price) and how to join (send `join.shareCode` as `shareCode` to POST /v1/communities/{id}/join "
            "and the sharer is credited once you are admitted). Nothing else: a pending, hidden, refused or "
            "deleted post answers 404 as an unknown code does. Limited per client address (`rate_limited`)."
        ),
        responses=_with(("not_found", "rate_limited"), m.SharePreview, "The preview"),
    )
    async def preview(
        self,
        code: SharePathCode,
        request: Request,
        db: Db,
        settings: AppSettings,
    ) -> m.SharePreview:
        address = request.client.host if request.client else "unknown"
        return await sharing.preview(db, settings, code, address)


CONTROLLERS = [CommunityFeedController, MyFeedController, PostsController, CommentsController, SharesController]
