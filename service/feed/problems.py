"""The problem codes of the feed domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code("edit_window_closed", 409, "A post can be edited only during the edit window after it was posted."),
    Code(
        "post_not_editable",
        409,
        "The post was removed or refused, or waits for an admin's review (held by WeChat's check or hidden by "
        "reports): it cannot be edited.",
    ),
    Code("too_many_mentions", 400, "More members mentioned than MAX_MENTIONS allows.", action="fix"),
    Code(
        "mention_not_member",
        422,
        "A mentioned user is not a member of this community (`detail` names them).",
        action="fix",
    ),
    Code("search_query_blank", 400, "The search query has no letters, digits or CJK characters to search for."),
    Code("pin_limit_reached", 409, "The community already has its 3 pinned posts: unpin one first."),
    Code("post_not_pinnable", 409, "Only a visible post can be pinned (not a pending, rejected or deleted one)."),
    Code(
        "not_group_share_info",
        400,
        "encryptedData decrypted but is not wx.getShareInfo's answer for a group chat (no openGId): send what "
        "getShareInfo gave for the launch options' shareTicket.",
        action="fix",
    ),
)
