"""The problem codes of the moderation domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code("already_reported", 409, "You have already reported this; its outcome shows in your reports."),
    Code("cannot_report_yourself", 422, "Your own posts, comments and profile cannot be reported."),
    Code("case_decided", 409, "Another moderator already decided this case differently; reload the queue."),
    Code(
        "author_not_member",
        409,
        "The author is no longer a member of the community: decide the content without muting or removing them.",
    ),
)
