"""The problem codes of the communities domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code("community_full", 409, "The community has reached its member cap."),
    Code("already_member", 409, "You are already a member of this community."),
    Code("already_in_series", 409, "You are already a member of a sister community of this series (one at a time)."),
    Code("payment_required", 402, "This community is paid: joining goes through checkout."),
    Code("member_removed", 403, "An admin removed you from this community; only an admin's approval lets you back."),
    Code("already_introduced", 409, "You have already introduced yourself in this community."),
    Code("request_not_pending", 409, "The join request was already decided or withdrawn."),
    Code("invite_not_found", 404, "No such invite link in this community."),
    Code("invite_expired", 410, "The invite link expired or was revoked."),
    Code("invite_used_up", 410, "The invite link reached its use limit."),
    Code("owner_must_transfer", 409, "The owner cannot leave: transfer ownership first."),
    Code("cap_below_member_count", 409, "The member cap cannot go below the current number of members."),
    Code(
        "refund_own_order",
        403,
        "An admin cannot refund an entry order they paid themselves (it comes out of the owner's income): the owner "
        "or another admin can, or they ask as its payer inside the refund window.",
    ),
    Code("nothing_to_withdraw", 409, "No entry fee is withdrawable yet (see the community's earnings)."),
    Code(
        "payout_too_large",
        409,
        "A single entry payment of 2,000 yuan or more cannot be paid out by merchant transfer without the payee's "
        "real name.",
    ),
)
