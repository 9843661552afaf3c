"""The problem codes of the meetups domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code("meetup_full", 409, "Every place is taken and this meetup keeps no waitlist."),
    Code("meetup_cancelled", 409, "The meetup was cancelled."),
    Code("signup_closed", 409, "The sign-up deadline has passed."),
    Code("not_signed_up", 409, "You have no confirmed place at this meetup."),
    Code(
        "cancellation_closed",
        409,
        "Too late to cancel: paid places until the sign-up deadline, others until the start.",
    ),
    Code(
        "meetup_attended",
        409,
        "A paid place checked in at the venue was used: it is neither given up nor refunded.",
    ),
    Code(
        "meetup_started",
        409,
        "The meetup has started (or ended): it can no longer be cancelled.",
    ),
    Code("capacity_below_signups", 409, "The capacity cannot go below the places already taken."),
    Code("venue_check_in_closed", 409, "Venue check-in is open from shortly before the start until the end."),
    Code("venue_code_invalid", 403, "The venue code or QR payload is not this meetup's: wrong, altered or forged."),
    Code("venue_code_expired", 410, "The QR payload has expired: scan the one shown at the venue now."),
)
