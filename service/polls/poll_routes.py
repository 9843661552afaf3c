"""HTTP routes of a poll as a whole: open, list, read, advance, close, its results and record (over
logic.py and closing.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.params import Body, QueryParameter

from service.core.deps import Db, Store
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.core.media import sign_answer, signed_json
from service.core.paging import Cursor, Limit
from service.polls import closing, logic
from service.polls import examples as ex
from service.polls import models as m
from service.polls.problems import PROBLEMS
from service.polls.responses import POLL_ADMIN, POLL_MEMBER, POLLS_TAG, WECHAT, ok

PollStatusFilter = Annotated[
    Literal["proposing", "voting", "closed"] | None, QueryParameter(description="Only polls in this phase")
]


class CommunityPollsController(Controller):
    path = "/communities/{community_id:str}/polls"
    tags = [POLLS_TAG]
    security = BEARER_SECURITY

    @post(
        "",
        operation_id="createPoll",
        summary="Open a product-naming poll (owner and admins)",
        description=(
            "Phases: members propose names until `proposalsCloseAt`, vote until `votingCloseAt`, then the poll "
            "closes and its results are final. Jobs advance the phases at the deadlines (admins may advance by "
            "hand). The feed robot announces the poll. `rewards` sets who wins a free trial at close; the seed of "
            "the voter draw is committed now (`seedCommitment` = SHA-256 of the seed) and revealed at close. The "
            "product's pictures: `imageIds`, my uploads (purpose `post`); members see each once WeChat approved it "
            "(`imageUrls` is no longer taken). `trialPoints`: places for check-in points (docs/polls.md). Title, "
            "description and `rewards.product` must pass WeChat's content check outright (`content_rejected`; "
            "`wechat_unavailable`: retry) before the poll opens."
        ),
        status_code=201,
        responses={
            **PROBLEMS.responses(
                *POLL_ADMIN, "idempotency_key_reused", "media_rejected", "points_not_spendable", *WECHAT
            ),
            **ok(201, m.Poll, "The new poll", "created", ex.POLL),
        },
    )
    async def create(
        self,
        community_id: PathId,
        data: Annotated[m.PollCreate, Body(examples=ex.example("a poll with trial rewards", ex.POLL_CREATE))],
        caller: CurrentUser,
        state: State,
        storage: Store,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Poll]:
        # `caller`, not `user`: the content check waits on WeChat without holding a pooled connection.
        created = await logic.create_poll(state.pool, state.wechat, community_id, caller.id, data, idempotency_key)
        return await sign_answer(storage, created)

    @get(
        "",
        operation_id="listPolls",
        summary="The community's polls, newest first (members)",
        description="Filter with `status`. `app_disabled` while the polls app is off in the community.",
        responses=PROBLEMS.responses(*POLL_MEMBER),
    )
    async def list_polls(
        self,
        community_id: PathId,
        user: CurrentUser,
        db: Db,
        storage: Store,
        status: PollStatusFilter = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> Response[m.PollPage]:
        return await signed_json(storage, await logic.list_polls(db, community_id, user.id, status, limit, cursor))


class PollsController(Controller):
    """One poll: read it, move it on, close it, its results and its full record."""

    path = "/polls"
    tags = [POLLS_TAG]
    security = BEARER_SECURITY

    @get(
        "/{poll_id:str}",
        operation_id="getPoll",
        summary="A poll, with my proposals and votes left (members of its community)",
        description="`app_disabled` while the polls app is off; trials it granted stay under `/v1/trials`.",
        responses={
            **PROBLEMS.responses(*POLL_MEMBER),
            **ok(200, m.Poll, "The poll as the caller sees it", "voting", ex.POLL),
        },
    )
    async def read(self, poll_id: PathId, user: CurrentUser, db: Db, storage: Store) -> Response[m.Poll]:
        return await signed_json(storage, await logic.read_poll(db, poll_id, user.id))

    @post(
        "/{poll_id:str}/advance",
        operation_id="advancePoll",
        summary="Move the poll to its next phase now (admins): proposing -> voting -> closed",
        description=(
            "Does now what the deadline jobs do: a proposing poll opens voting, a voting poll closes with its final "
            "ranking, free trials and draw (as `closePoll`). A closed poll answers `poll_closed`. Each call moves the "
            "poll one phase on. Send `fromStatus`, the phase shown to the admin: when the poll is no longer in it "
            "(another admin pressed first, or a deadline passed), nothing changes and the answer is "
            "`poll_phase_changed`, so two admins pressing at once move it one phase, not straight to closed. Send an "
            "`Idempotency-Key` too, so that a retry answers the first call's poll. Without a body (older clients) it "
            "moves on from whatever phase the poll is in."
        ),
        status_code=200,
        responses=PROBLEMS.responses(*POLL_ADMIN, "poll_closed", "poll_phase_changed", "idempotency_key_reused"),
    )
    async def advance(
        self,
        poll_id: PathId,
        user: CurrentUser,
        db: Db,
        storage: Store,
        data: Annotated[m.PollAdvance | None, Body(examples=ex.example("open voting", ex.POLL_ADVANCE))] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Poll]:
        from_status = data.from_status if data is not None else None
        return await sign_answer(storage, await closing.advance(db, poll_id, user.id, from_status, idempotency_key))

    @post(
        "/{poll_id:str}/close",
        operation_id="closePoll",
        summary="Close the poll now (admins): final ranking, free trials, draw and result post",
        description="Closing a closed poll changes nothing and answers its results again.",
        status_code=200,
        responses={**PROBLEMS.responses(*POLL_ADMIN), **ok(200, m.Results, "The final results", "closed", ex.RESULTS)},
    )
    async def close(self, poll_id: PathId, user: CurrentUser, db: Db) -> m.Results:
        return await closing.close(db, poll_id, user.id)

    @get(
        "/{poll_id:str}/results",
        operation_id="getPollResults",
        summary="Final ranking, qualifications and the published draw (members, once closed)",
        description=(
            "Ties are broken by `tieBreakRule`. `draw` holds everything needed to redo the voter draw: check "
            "that SHA-256(`seed`) equals the `seedCommitment` published at creation, then rank `eligibleUserIds` "
            "by HMAC-SHA256(key = hex-decoded seed, message = `<pollId>:<userId>`) and take the first `count` "
            "(docs/polls.md)."
        ),
        responses={
            **PROBLEMS.responses(*POLL_MEMBER, "poll_not_closed"),
            **ok(200, m.Results, "The final results", "results", ex.RESULTS),
        },
    )
    async def results(self, poll_id: PathId, user: CurrentUser, db: Db) -> m.Results:
        return await closing.results(db, poll_id, user.id)

    @get(
        "/{poll_id:str}/audit",
        operation_id="getPollAudit",
        summary="Every proposal, vote, withdrawal, moderation and phase change, oldest first",
        description=(
            "Admins at any time; members once the poll is closed, without the name (`details.name`) of another "
            "member's proposal held for review or hidden."
        ),
        responses=PROBLEMS.responses(*POLL_MEMBER, "poll_not_closed"),
    )
    async def audit(
        self, poll_id: PathId, user: CurrentUser, db: Db, limit: Limit = 100, cursor: Cursor = None
    ) -> m.PollAuditPage:
        return await logic.audit_log(db, poll_id, user.id, limit, cursor)
