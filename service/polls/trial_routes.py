"""HTTP routes of free trials: a poll's trials and feedback for its admins, and the holder's claim,
feedback and share (over trials.py). They stay reachable with the polls app switched off."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.params import JSONBody

from service.core.deps import Db, Store
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.idempotency import IdempotencyKey
from service.core.ids import PathId
from service.core.media import sign_answer, signed_json
from service.core.paging import Cursor, Limit
from service.polls import examples as ex
from service.polls import models as m
from service.polls import trials
from service.polls.problems import PROBLEMS
from service.polls.responses import ADMIN, AUTH, POLLS_TAG, TRIALS_TAG, WECHAT, ok


class PollTrialsController(Controller):
    """A poll's free trials and their feedback, for its admins."""

    path = "/polls"
    tags = [POLLS_TAG]
    security = BEARER_SECURITY

    @get(
        "/{poll_id:str}/trials",
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
        "/{poll_id:str}/feedback",
        operation_id="listPollFeedback",
        summary="All trial feedback of the poll with the average rating (admins)",
        tags=[TRIALS_TAG],
        responses={
            **PROBLEMS.responses(*ADMIN),
            **ok(200, m.FeedbackPage, "Feedback, oldest first, with count and average", "feedback", ex.FEEDBACK_PAGE),
        },
    )
    async def list_feedback(
        self, poll_id: PathId, user: CurrentUser, db: Db, storage: Store, limit: Limit = 50, cursor: Cursor = None
    ) -> Response[m.FeedbackPage]:
        return await signed_json(storage, await trials.poll_feedback(db, poll_id, user.id, limit, cursor))


class TrialsController(Controller):
    path = "/trials"
    tags = [TRIALS_TAG]
    security = BEARER_SECURITY

    @post(
        "/{trial_id:str}/claim",
        operation_id="claimTrial",
        summary="Claim my free trial with a delivery note (before it expires; again to change the note)",
        description=(
            "Only the holder, before `expiresAt` (`trial_expired` after). Claiming again replaces the delivery note "
            "until an admin ships the trial (`trial_already_shipped`). A holder an admin removed from the community "
            "cannot (`trial_holder_removed`) until an admin lets them back; one who left by themselves can."
        ),
        status_code=200,
        responses={
            **PROBLEMS.responses(
                *AUTH,
                "not_found",
                "not_trial_holder",
                "trial_expired",
                "trial_already_shipped",
                "trial_void",
                "trial_holder_removed",
            ),
            **ok(200, m.Trial, "The claimed qualification", "claimed", ex.TRIAL),
        },
    )
    async def claim(self, trial_id: PathId, data: JSONBody[m.TrialClaim], user: CurrentUser, db: Db) -> m.Trial:
        return await trials.claim(db, trial_id, user.id, data)

    @post(
        "/{trial_id:str}/ship",
        operation_id="shipTrial",
        summary="Mark a claimed trial shipped (admins of its community)",
        description=(
            "The trial must be claimed (`trial_not_claimed`; `trial_expired` when it lapsed unclaimed; `trial_void` "
            "when it ended because its holder's account was erased, delivery note and all; `trial_holder_removed` "
            "while an admin has removed its holder from the community); `shippingNote` "
            "is optional. Marking a shipped trial again changes nothing; this works with the polls app switched off, "
            "since granted trials are promises to members."
        ),
        status_code=200,
        responses=PROBLEMS.responses(
            *ADMIN, "trial_expired", "trial_not_claimed", "trial_void", "trial_holder_removed"
        ),
    )
    async def ship(
        self, trial_id: PathId, user: CurrentUser, db: Db, data: JSONBody[m.TrialShipment | None] = None
    ) -> m.Trial:
        return await trials.ship(db, trial_id, user.id, data or m.TrialShipment())

    @post(
        "/{trial_id:str}/feedback",
        operation_id="giveTrialFeedback",
        summary="Rate my trial 1-5 with text and images (the holder, once claimed; once)",
        description=(
            "Only the holder of a claimed or shipped trial, once (`feedback_exists`). WeChat checks the text: risky is "
            "refused, text held for review is kept and stays pending when shared. Photos (`imageIds`, my uploads) show "
            "to the admins once WeChat approved them. Send an `Idempotency-Key` to retry safely."
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
                "trial_void",
                "feedback_exists",
                "idempotency_key_reused",
                "media_rejected",
            ),
            **ok(201, m.Feedback, "The feedback", "feedback", ex.FEEDBACK),
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
        answer = await trials.give_feedback(state.pool, state.wechat, trial_id, caller.id, data, idempotency_key)
        return await sign_answer(state.storage, answer)

    @post(
        "/{trial_id:str}/feedback/share",
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
            **ok(201, m.SharedPost, "The new post", "shared", ex.SHARED),
            **ok(200, m.SharedPost, "Shared before: the same post", "shared before", ex.SHARED),
        },
    )
    async def share(self, trial_id: PathId, user: CurrentUser, db: Db, storage: Store) -> Response[m.SharedPost]:
        shared = await trials.share_feedback(db, trial_id, user.id)
        return await signed_json(storage, shared.content, shared.status_code)


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
            **ok(200, m.TrialPage, "My qualifications", "mine", m.TrialPage(items=[ex.TRIAL], next_cursor=None)),
        },
    )
    async def mine(self, user: CurrentUser, db: Db, limit: Limit = 20, cursor: Cursor = None) -> m.TrialPage:
        return await trials.my_trials(db, user.id, limit, cursor)
