"""HTTP routes of search, a member's posts and pinned notices (docs/search.md): thin handlers."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter

from service.core.deps import AppSettings, Db, Reads
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.ids import USER_REF_PATTERN, PathId, user_ref
from service.core.media import sign_answer
from service.core.paging import Cursor
from service.feed import models as m
from service.feed import pins, reading, search
from service.feed.routes import ADMIN, MEMBER, TAG, FeedLimit, _with

SearchText = Annotated[
    str,
    QueryParameter(
        min_length=1,
        max_length=50,
        description="Words to find (1-50 characters), Chinese included; every word must match",
    ),
]

MemberRef = Annotated[
    str, PathParameter(pattern=USER_REF_PATTERN, description="`me` for my own posts, or a member's user id")
]


class SearchController(Controller):
    path = "/communities/{community_id:str}"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "/search",
        operation_id="searchCommunity",
        summary="Search a community's posts and comments by words, best matches first (members only)",
        description=(
            "Chinese needs no spaces: `跑步` finds 今天早上去跑步了. Every word of `q` must match; a Chinese run of "
            "two or more characters matches as written, one character or a Latin word as the start of a word. "
            "Only what every member sees: no pending, held, hidden or removed content, nothing by members I blocked "
            "(a removed member's writing is found while the feed shows it); "
            "where a read replica serves the hits, they may be up to `REPLICA_MAX_LAG` (1 s) behind every write, "
            "mine included. "
            "Each hit has a `snippet` of its text and the `highlights` in it as [start, end) UTF-16 offsets. "
            "A `q` with nothing to search (only spaces or punctuation) answers 400 `search_query_blank`. "
            "SEARCH_PER_MINUTE (30) searches per member a minute, every page counted (429 `rate_limited` with "
            "Retry-After)."
        ),
        responses=_with((*MEMBER, "search_query_blank", "rate_limited"), m.SearchPage, "Matches, best first"),
    )
    async def search(
        self,
        community_id: PathId,
        q: SearchText,
        caller: CurrentUser,
        reads: Reads,
        settings: AppSettings,
        limit: FeedLimit = 20,
        cursor: Cursor = None,
    ) -> m.SearchPage:
        return await search.search(reads, settings, community_id, caller.id, q, limit, cursor)

    @get(
        "/members/{user_id:str}/posts",
        operation_id="listMemberPosts",
        summary="A member's posts in the community, newest first, as the feed shows them (members only)",
        description=(
            "`me` for my own, as on the profile. A user who does not stand in the community answers 404; the brand's "
            "team stands there member or not (docs/search.md)."
        ),
        responses=_with(MEMBER, m.FeedPage, "A page of the member's posts"),
    )
    async def member_posts(
        self,
        community_id: PathId,
        user_id: MemberRef,
        caller: CurrentUser,
        state: State,
        limit: FeedLimit = 20,
        cursor: Cursor = None,
    ) -> Response[m.FeedPage]:
        author = user_ref(user_id, caller.id)
        page = await reading.member_posts(state.pool, community_id, caller.id, author, limit, cursor)
        return await sign_answer(state.storage, page)


class PinsController(Controller):
    path = "/communities/{community_id:str}/pins"
    tags = [TAG]
    security = BEARER_SECURITY

    @post(
        "",
        operation_id="pinPost",
        summary="Pin a visible post of the community on top of its feed (admins; at most 3; idempotent)",
        description=(
            "The feed's first page starts with the pinned posts, in the order pinned, marked `pinned`; they are "
            "not repeated further down. A 4th pin answers 409 `pin_limit_reached`; a pending or refused post "
            "409 `post_not_pinnable`; a post of another community 404. A pinned post that is deleted or hidden "
            "frees its place."
        ),
        status_code=200,
        responses=_with((*ADMIN, "pin_limit_reached", "post_not_pinnable"), m.Pins, "The pins, in order"),
    )
    async def pin(self, community_id: PathId, data: JSONBody[m.PinCreate], user: CurrentUser, db: Db) -> m.Pins:
        return await pins.pin(db, community_id, user.id, data)

    @delete(
        "/{post_id:str}",
        operation_id="unpinPost",
        summary="Unpin a post (admins; idempotent)",
        status_code=200,
        responses=_with(ADMIN, m.Pins, "The pins left, in order"),
    )
    async def unpin(self, community_id: PathId, post_id: PathId, user: CurrentUser, db: Db) -> m.Pins:
        return await pins.unpin(db, community_id, user.id, post_id)


CONTROLLERS = [SearchController, PinsController]
