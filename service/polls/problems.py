"""The problem codes of the polls domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code(
        "poll_not_accepting_proposals",
        409,
        "The poll does not take proposals now: its proposal phase ended (deadline passed, voting or closed).",
    ),
    Code(
        "poll_not_accepting_votes",
        409,
        "The poll does not take votes now: voting has not opened yet, or its deadline passed, or it is closed.",
    ),
    Code("poll_closed", 409, "The poll is closed: its results are final and nothing in it changes any more."),
    Code(
        "poll_phase_changed",
        409,
        "The poll is no longer in the phase you meant to leave (`fromStatus`): another admin or a deadline moved it "
        "on, and nothing changed. Read the poll again.",
    ),
    Code("poll_not_closed", 409, "Results, the draw and the full record are published when the poll closes."),
    Code(
        "duplicate_proposal",
        409,
        "The same name (ignoring case, width, spaces and punctuation) was already proposed: "
        "`existingProposalId` names it. Vote for it instead.",
    ),
    Code("proposal_limit_reached", 409, "You have made as many proposals as this poll allows each member."),
    Code("vote_limit_reached", 409, "You have used all your votes in this poll; withdraw one to vote again."),
    Code("already_voted", 409, "You already vote for this proposal (one vote per proposal)."),
    Code("vote_changes_not_allowed", 409, "This poll does not let members change or withdraw votes."),
    Code("proposal_not_votable", 409, "Only visible proposals can get votes (not pending, hidden or merged ones)."),
    Code("proposal_merged", 409, "The proposal was merged into another; act on that one."),
    Code("invalid_merge", 409, "Merge a proposal into another visible proposal of the same poll, not into itself."),
    Code("not_trial_holder", 403, "Only the member who holds this free-trial qualification may do this."),
    Code("trial_expired", 410, "The qualification was not claimed before its deadline and has expired."),
    Code("trial_not_claimed", 409, "The qualification has not been claimed yet: claim it with a delivery note first."),
    Code("trial_already_shipped", 409, "The trial was already shipped: its delivery note no longer changes."),
    Code(
        "trial_void",
        409,
        "The trial ended before it shipped (`voidReason`: `account_erased`, its holder's account and delivery note "
        "were erased): it is no longer claimed, shipped or rated.",
    ),
    Code(
        "trial_holder_removed",
        409,
        "An admin removed the trial's holder from the poll's community: the trial is not claimed or shipped while "
        "they stay removed (an admin's approval of their return lets it go on).",
    ),
    Code("feedback_exists", 409, "You already gave feedback on this trial (one per qualification)."),
    Code("no_feedback", 409, "There is no feedback on this trial to share yet."),
    Code("points_not_spendable", 409, "The community's brand (if any) does not let members spend points."),
    Code("no_points_offer", 409, "This poll offers no trial places for points."),
    Code("trial_redemption_closed", 409, "Places are redeemed from the poll's close until `redeemableUntil`."),
    Code("trial_already_held", 409, "You already hold a free trial of this poll (one per member)."),
    Code("no_places_left", 409, "Every place offered for points is taken."),
    Code("not_enough_points", 409, "Your points in this brand do not cover the place."),
    Code("points_places_below_redeemed", 409, "Places cannot go below those already redeemed."),
)
