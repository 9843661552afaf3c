"""HTTP routes of votes: cast one, replace all mine, withdraw one (over votes.py)."""

from __future__ import annotations

from litestar import Controller, Response, delete, post, put
from litestar.params import JSONBody

from service.core.deps import Db
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.polls import examples as ex
from service.polls import models as m
from service.polls import votes
from service.polls.problems import PROBLEMS
from service.polls.responses import POLL_MEMBER, POLLS_TAG, ok


class VotesController(Controller):
    """My votes in a poll."""

    path = "/polls"
    tags = [POLLS_TAG]
    security = BEARER_SECURITY

    @post(
        "/{poll_id:str}/votes",
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
            **ok(201, m.Vote, "The vote, and how many I have left", "voted", ex.VOTE),
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
        "/{poll_id:str}/votes",
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
        "/{poll_id:str}/votes/{proposal_id:str}",
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
