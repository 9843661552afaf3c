"""The problem codes of the activities domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code("check_in_late", 409, "The occurrence's check-in window has closed: check in during the next one."),
    Code("check_in_not_open", 409, "The check-in window has not opened yet."),
    Code("already_checked_in", 409, "You already checked into this occurrence (one check-in per occurrence)."),
    Code("activity_ended", 409, "The activity has ended."),
)
