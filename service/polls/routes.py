"""HTTP routes of naming polls and free trials: thin handlers over logic.py, closing.py and trials.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body, JSONBody, QueryParameter

from service.core.deps import AppSettings, Db
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.core.paging import Cursor, Limit
from service.errors import PROBLEM_MEDIA_TYPE, ProblemBody, problem_response
from service.polls import closing, logic, trials, votes
from service.polls import examples as ex
from service.polls import models as m
from service.polls.logic import DuplicateProposal
from service.polls.problems import PROBLEMS

POLLS_TAG = "polls"
TRIALS_TAG = "trials"
AUTH = ("unauthorized", "token_expired")
MEMBER = (*AUTH, "not_found", "not_member")
ADMIN = (*MEMBER, "forbidden")
# Poll routes answer app_disabled while the polls app is off; trials already granted stay reachable.
POLL_MEMBER = (*MEMBER, "app_disabled")
POLL_ADMIN = (*ADMIN, "app_disabled")
WECHAT = ("content_rejected", "wechat_session_stale", "wechat_unavailable", "wechat_error")
PollStatusFilter = Annotated[
    Literal["proposing", "voting", "closed"] | None, QueryParameter(description="Only polls in this phase")
]


class DuplicateProposalProblem(ProblemBody, frozen=True, omit_defaults=True, rename="camel"):
    """`duplicate_proposal`: the problem document plus the id of the proposal that already has the name."""

    existing_proposal_id: str | None = None


def _duplicate_response(request: Request, duplicate: DuplicateProposal) -> Response[bytes]:
    body = msgspec.json.decode(problem_response(request, duplicate).content)
    body["existingProposalId"] = duplicate.existing_id
    return Response(msgspec.json.encode(body), status_code=409, media_type=PROBLEM_MEDIA_TYPE)


def _ok(status: int, model: type, description: str, summary: str, value: msgspec.Struct) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            generate_examples=False, data_container=model, description=description, examples=ex.example(summary, value)
        )
    }


def _propose_responses() -> dict[int, ResponseSpec]:
    specs = PROBLEMS.responses(
        *POLL_MEMBER,
        *WECHAT,
        "member_muted",
        "poll_not_accepting_proposals",
        "proposal_limit_reached",
        "duplicate_proposal",
        "idempotency_key_reused",
    )
    conflict = specs[409]
    duplicate = {
        "type": "https://errors.community.example/duplicate_proposal",
        "title": PROBLEMS["duplicate_proposal"][1],
        "status": 409,
        "code": "duplicate_proposal",
        "detail": "proposal 5002 already has this name",
        "existingProposalId": "5002",
    }
    specs[409] = ResponseSpec(
        generate_examples=False,
        data_container=DuplicateProposalProblem,
        description=conflict.description,
        media_type=PROBLEM_MEDIA_TYPE,
        examples=[e for e in conflict.examples or [] if e.summary != "duplicate_proposal"]
        + [Example(summary="duplicate_proposal", value=duplicate)],
    )
    return {
        **specs,
        **_ok(201, m.Proposal, "Proposed (status `pending` when WeChat asks for a review)", "proposed", ex.PROPOSAL),
    }


class CommunityPollsController(Controller):
    path = "/communities/{community_id:int}/polls"
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
            "the voter draw is committed now (`seedCommitment` = SHA-256 of the seed) and revealed at close."
        ),
        status_code=201,
        responses={
            **PROBLEMS.responses(*POLL_ADMIN, "idempotency_key_reused"),
            **_ok(201, m.Poll, "The new poll", "created", ex.POLL),
        },
    )
    async def create(
        self,
        community_id: PathId,
        data: Annotated[m.PollCreate, Body(examples=ex.example("a poll with trial rewards", ex.POLL_CREATE))],
        user: CurrentUser,
        db: Db,
        settings: AppSettings,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Poll]:
        return await logic.create_poll(db, settings, community_id, user.id, data, idempotency_key)

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
        status: PollStatusFilter = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> m.PollPage:
        return await logic.list_polls(db, community_id, user.id, status, limit, cursor)


class PollsController(Controller):
    path = "/polls"
    tags = [POLLS_TAG]
    security = BEARER_SECURITY

    @get(
        "/{poll_id:int}",
        operation_id="getPoll",
        summary="A poll, with my proposals and votes left (members of its community)",
        description="`app_disabled` while the polls app is off; trials it granted stay under `/v1/trials`.",
        responses={
            **PROBLEMS.responses(*POLL_MEMBER),
            **_ok(200, m.Poll, "The poll as the caller sees it", "voting", ex.POLL),
        },
    )
    async def read(self, poll_id: PathId, user: CurrentUser, db: Db) -> m.Poll:
        return await logic.read_poll(db, poll_id, user.id)

    @post(
        "/{poll_id:int}/proposals",
        operation_id="proposeName",
        summary="Propose a name (members, during the proposal phase)",
        description=(
            "The name is trimmed and checked by WeChat's content safety; a duplicate (same name ignoring case, "
            "full-width/half-width, spaces and punctuation) answers 409 `duplicate_proposal` with "
            "`existingProposalId`. Each member may propose up to `proposalsPerMember` names."
        ),
        status_code=201,
        responses=_propose_responses(),
    )
    async def propose(
        self,
        request: Request,
        poll_id: PathId,
        data: JSONBody[m.ProposalCreate],
        caller: CurrentUser,
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Proposal]:
        try:
            return await logic.propose(state.pool, state.wechat, poll_id, caller.id, data, idempotency_key)
        except DuplicateProposal as duplicate:
            return _duplicate_response(request, duplicate)

    @get(
        "/{poll_id:int}/proposals",
        operation_id="listProposals",
        summary="Proposals in the order they came (members see visible ones and their own; admins all)",
        description="`proposerId` is null for others' proposals while an anonymous poll is open; `votes` and "
        "`rank` are filled in once the poll is closed.",
        responses=PROBLEMS.responses(*POLL_MEMBER),
    )
    async def proposals(
        self, poll_id: PathId, user: CurrentUser, db: Db, limit: Limit = 50, cursor: Cursor = None
    ) -> m.ProposalPage:
        return await logic.list_proposals(db, poll_id, user.id, limit, cursor)

    @patch(
        "/{poll_id:int}/proposals/{proposal_id:int}",
        operation_id="moderateProposal",
        summary="Hide an unsuitable proposal or show a pending or hidden one (admins, before close)",
        description="Hiding a proposal withdraws its votes: their members may vote again.",
        responses=PROBLEMS.responses(*POLL_ADMIN, "poll_closed", "proposal_merged"),
    )
    async def moderate(
        self,
        poll_id: PathId,
        proposal_id: PathId,
        data: JSONBody[m.ProposalModeration],
        user: CurrentUser,
        db: Db,
    ) -> m.Proposal:
        return await logic.moderate(db, poll_id, user.id, proposal_id, data)

    @post(
        "/{poll_id:int}/proposals/{proposal_id:int}/merge",
        operation_id="mergeProposal",
        summary="Merge a duplicate into another visible proposal (admins, before close)",
        description="Its votes move to the target, except where the member already votes for the target (that "
        "vote goes back to the member). The merged proposal answers later duplicates with the target's id.",
        status_code=200,
        responses=PROBLEMS.responses(*POLL_ADMIN, "poll_closed", "proposal_merged", "invalid_merge"),
    )
    async def merge(
        self, poll_id: PathId, proposal_id: PathId, data: JSONBody[m.ProposalMerge], user: CurrentUser, db: Db
    ) -> m.Proposal:
        return await logic.merge(db, poll_id, user.id, proposal_id, data)

    @post(
        "/{poll_id:int}/votes",
        operation_id="castVote",
        summary="Vote for a proposal (members, during voting; one vote per proposal, N per member)",
        description=(
            "One vote per proposal (`already_voted`) and at most `votesPerMember` per member, which holds under "
            "parallel requests; only visible proposals take votes. Send an `Idempotency-Key` to retry safely."
        ),
        status_code=201,
        responses={
            **PROBLEMS.responses(
                *POLL_MEMBER,
                "poll_not_accepting_votes",
                "proposal_not_votable",
                "already_voted",
                "vote_limit_reached",
                "idempotency_key_reused",
            ),
            **_ok(201, m.Vote, "The vote, and how many I have left", "voted", ex.VOTE),
        },
    )
    async def vote(
        self,
        poll_id: PathId,
        data: JSONBody[m.VoteCreate],
        user: CurrentUser,
        db: Db,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Vote]:
        return await votes.vote(db, poll_id, user.id, int(data.proposal_id), idempotency_key)

    @put(
        "/{poll_id:int}/votes",
        operation_id="setMyVotes",
        summary="Replace all my votes at once (during voting; dropping a vote needs allowVoteChanges)",
        description=(
            "`proposalIds` is my whole choice: votes left out are withdrawn (only where the poll has "
            "`allowVoteChanges`) and new ones cast, in one transaction. At most `votesPerMember`; each added proposal "
            "must be visible."
        ),
        responses=PROBLEMS.responses(
            *POLL_MEMBER,
            "poll_not_accepting_votes",
            "proposal_not_votable",
            "vote_limit_reached",
            "vote_changes_not_allowed",
        ),
    )
    async def set_votes(self, poll_id: PathId, data: JSONBody[m.VoteSet], user: CurrentUser, db: Db) -> m.MyVotes:
        return await votes.set_votes(db, poll_id, user.id, data)

    @delete(
        "/{poll_id:int}/votes/{proposal_id:int}",
        operation_id="withdrawVote",
        summary="Withdraw my vote for a proposal (during voting, when the poll allows vote changes)",
        description=(
            "Until the voting deadline, where the poll has `allowVoteChanges` (`vote_changes_not_allowed` otherwise); "
            "the vote can then be cast again. Withdrawing a vote I do not have changes nothing."
        ),
        responses=PROBLEMS.responses(*POLL_MEMBER, "poll_not_accepting_votes", "vote_changes_not_allowed"),
    )
    async def withdraw(self, poll_id: PathId, proposal_id: PathId, user: CurrentUser, db: Db) -> None:
        await votes.withdraw_vote(db, poll_id, user.id, proposal_id)

    @post(
        "/{poll_id:int}/advance",
        operation_id="advancePoll",
        summary="Move the poll to its next phase now (admins): proposing -> voting -> closed",
        description=(
            "Does now what the deadline jobs do: a proposing poll opens voting, a voting poll closes with its final "
            "ranking, free trials and draw (as `closePoll`). A closed poll answers `poll_closed`."
        ),
        status_code=200,
        responses=PROBLEMS.responses(*POLL_ADMIN, "poll_closed"),
    )
    async def advance(self, poll_id: PathId, user: CurrentUser, db: Db) -> m.Poll:
        return await closing.advance(db, poll_id, user.id)

    @post(
        "/{poll_id:int}/close",
        operation_id="closePoll",
        summary="Close the poll now (admins): final ranking, free trials, draw and result post",
        description="Closing a closed poll changes nothing and answers its results again.",
        status_code=200,
        responses={**PROBLEMS.responses(*POLL_ADMIN), **_ok(200, m.Results, "The final results", "closed", ex.RESULTS)},
    )
    async def close(self, poll_id: PathId, user: CurrentUser, db: Db) -> m.Results:
        return await closing.close(db, poll_id, user.id)

    @get(
        "/{poll_id:int}/results",
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
            **_ok(200, m.Results, "The final results", "results", ex.RESULTS),
        },
    )
    async def results(self, poll_id: PathId, user: CurrentUser, db: Db) -> m.Results:
        return await closing.results(db, poll_id, user.id)

    @get(
        "/{poll_id:int}/audit",
        operation_id="getPollAudit",
        summary="Every proposal, vote, withdrawal, moderation and phase change, oldest first",
        description="Admins at any time; members once the poll is closed.",
        responses=PROBLEMS.responses(*POLL_MEMBER, "poll_not_closed"),
    )
    async def audit(
        self, poll_id: PathId, user: CurrentUser, db: Db, limit: Limit = 100, cursor: Cursor = None
    ) -> m.PollAuditPage:
        return await logic.audit_log(db, poll_id, user.id, limit, cursor)

    @get(
        "/{poll_id:int}/trials",
        operation_id="listPollTrials",
        summary="The poll's free-trial qualifications with delivery notes, to ship them (admins)",
        tags=[TRIALS_TAG],
        responses=PROBLEMS.responses(*ADMIN),
    )
    async def list_trials(
        self, poll_id: PathId, user: CurrentUser, db: Db, limit: Limit = 50, cursor: Cursor = None
    ) -> m.TrialPage:
        return await trials.poll_trials(db, poll_id, user.id, limit, cursor)

    @get(
        "/{poll_id:int}/feedback",
        operation_id="listPollFeedback",
        summary="All trial feedback of the poll with the average rating (admins)",
        tags=[TRIALS_TAG],
        responses={
            **PROBLEMS.responses(*ADMIN),
            **_ok(200, m.FeedbackPage, "Feedback, oldest first, with count and average", "feedback", ex.FEEDBACK_PAGE),
        },
    )
    async def list_feedback(
        self, poll_id: PathId, user: CurrentUser, db: Db, limit: Limit = 50, cursor: Cursor = None
    ) -> m.FeedbackPage:
        return await trials.poll_feedback(db, poll_id, user.id, limit, cursor)


class TrialsController(Controller):
    path = "/trials"
    tags = [TRIALS_TAG]
    security = BEARER_SECURITY

    @post(
        "/{trial_id:int}/claim",
        operation_id="claimTrial",
        summary="Claim my free trial with a delivery note (before it expires; again to change the note)",
        description=(
            "Only the holder, before `expiresAt` (`trial_expired` after). Claiming again replaces the delivery note "
            "until an admin ships the trial (`trial_already_shipped`)."
        ),
        status_code=200,
        responses={
            **PROBLEMS.responses(*AUTH, "not_found", "not_trial_holder", "trial_expired", "trial_already_shipped"),
            **_ok(200, m.Trial, "The claimed qualification", "claimed", ex.TRIAL),
        },
    )
    async def claim(self, trial_id: PathId, data: JSONBody[m.TrialClaim], user: CurrentUser, db: Db) -> m.Trial:
        return await trials.claim(db, trial_id, user.id, data)

    @post(
        "/{trial_id:int}/ship",
        operation_id="shipTrial",
        summary="Mark a claimed trial shipped (admins of its community)",
        description=(
            "The trial must be claimed (`trial_not_claimed`; `trial_expired` when it lapsed unclaimed); `shippingNote` "
            "is optional. Marking a shipped trial again changes nothing; this works with the polls app switched off, "
            "since granted trials are promises to members."
        ),
        status_code=200,
        responses=PROBLEMS.responses(*ADMIN, "trial_expired", "trial_not_claimed"),
    )
    async def ship(
        self, trial_id: PathId, user: CurrentUser, db: Db, data: JSONBody[m.TrialShipment | None] = None
    ) -> m.Trial:
        return await trials.ship(db, trial_id, user.id, data or m.TrialShipment())

    @post(
        "/{trial_id:int}/feedback",
        operation_id="giveTrialFeedback",
        summary="Rate my trial 1-5 with text and images (the holder, once claimed; once)",
        description=(
            "Only the holder of a claimed or shipped trial, once (`feedback_exists`). WeChat checks the text: risky is "
            "refused, text held for review is kept and stays pending when shared. Send an `Idempotency-Key` to retry "
            "safely."
        ),
        status_code=201,
        responses={
            **PROBLEMS.responses(
                *AUTH,
                *WECHAT,
                "not_found",
                "not_trial_holder",
                "trial_expired",
                "trial_not_claimed",
                "feedback_exists",
                "idempotency_key_reused",
            ),
            **_ok(201, m.Feedback, "The feedback", "feedback", ex.FEEDBACK),
        },
    )
    async def give_feedback(
        self,
        trial_id: PathId,
        data: JSONBody[m.FeedbackCreate],
        caller: CurrentUser,
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Feedback]:
        return await trials.give_feedback(state.pool, state.wechat, trial_id, caller.id, data, idempotency_key)

    @post(
        "/{trial_id:int}/feedback/share",
        operation_id="shareTrialFeedback",
        summary="Share my feedback to the community feed as my post (kind `feedback`); again: the same post",
        description=(
            "Posts the stars and text (`★★★★☆ 试用「…」：…`) to the trial's community as my post; text WeChat held for "
            "review stays pending. 201 the first time, then 200 with the same post; the community's posting rules "
            "apply."
        ),
        status_code=201,
        responses={
            **PROBLEMS.responses(
                *AUTH,
                "not_found",
                "not_member",
                "not_trial_holder",
                "no_feedback",
                "member_muted",
                "introduction_required",
            ),
            **_ok(201, m.SharedPost, "The new post", "shared", ex.SHARED),
            **_ok(200, m.SharedPost, "Shared before: the same post", "shared before", ex.SHARED),
        },
    )
    async def share(self, trial_id: PathId, user: CurrentUser, db: Db) -> Response[m.SharedPost]:
        return await trials.share_feedback(db, trial_id, user.id)


class MyTrialsController(Controller):
    path = "/me/trials"
    tags = [TRIALS_TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="listMyTrials",
        summary="My free-trial qualifications, newest first (an unclaimed one past its deadline is expired)",
        responses={
            **PROBLEMS.responses(*AUTH),
            **_ok(200, m.TrialPage, "My qualifications", "mine", m.TrialPage(items=[ex.TRIAL], next_cursor=None)),
        },
    )
    async def mine(self, user: CurrentUser, db: Db, limit: Limit = 20, cursor: Cursor = None) -> m.TrialPage:
        return await trials.my_trials(db, user.id, limit, cursor)


CONTROLLERS: list[Any] = [CommunityPollsController, PollsController, TrialsController, MyTrialsController]
