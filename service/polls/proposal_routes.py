"""HTTP routes of proposals: propose a name (a duplicate answers with the proposal that has it), list,
moderate and merge them (over proposals.py)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import JSONBody

from service.core.deps import Db
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.core.paging import Cursor, Limit
from service.errors import PROBLEM_MEDIA_TYPE, ProblemBody, problem_response
from service.polls import examples as ex
from service.polls import models as m
from service.polls import proposals
from service.polls.problems import PROBLEMS
from service.polls.proposals import DuplicateProposal
from service.polls.responses import POLL_ADMIN, POLL_MEMBER, POLLS_TAG, WECHAT, ok


class DuplicateProposalProblem(ProblemBody, frozen=True, omit_defaults=True, rename="camel"):
    """`duplicate_proposal`: the problem document plus the id of the proposal that already has the name."""

    existing_proposal_id: str | None = None


def _duplicate_response(request: Request, duplicate: DuplicateProposal) -> Response[bytes]:
    body = msgspec.json.decode(problem_response(request, duplicate).content)
    body["existingProposalId"] = duplicate.existing_id
    return Response(msgspec.json.encode(body), status_code=409, media_type=PROBLEM_MEDIA_TYPE)


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
        **ok(201, m.Proposal, "Proposed (status `pending` when WeChat asks for a review)", "proposed", ex.PROPOSAL),
    }


class ProposalsController(Controller):
    """A poll's proposals."""

    path = "/polls"
    tags = [POLLS_TAG]
    security = BEARER_SECURITY

    @post(
        "/{poll_id:str}/proposals",
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
            return await proposals.propose(state.pool, state.wechat, poll_id, caller.id, data, idempotency_key)
        except DuplicateProposal as duplicate:
            return _duplicate_response(request, duplicate)

    @get(
        "/{poll_id:str}/proposals",
        operation_id="listProposals",
        summary="Proposals in the order they came (members see visible ones and their own; admins all)",
        description="`proposerId` is null for others' proposals while an anonymous poll is open; `votes` and "
        "`rank` are filled in once the poll is closed.",
        responses=PROBLEMS.responses(*POLL_MEMBER),
    )
    async def proposals(
        self, poll_id: PathId, user: CurrentUser, db: Db, limit: Limit = 50, cursor: Cursor = None
    ) -> m.ProposalPage:
        return await proposals.list_proposals(db, poll_id, user.id, limit, cursor)

    @put(
        "/{poll_id:str}/proposals/{proposal_id:str}",
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
        return await proposals.moderate(db, poll_id, user.id, proposal_id, data)

    @post(
        "/{poll_id:str}/proposals/{proposal_id:str}/merge",
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
        return await proposals.merge(db, poll_id, user.id, proposal_id, data)
