"""The problem codes of the robots domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

MAX_RULES = 50  # keyword rules per community: every visible text is matched against all of them

PROBLEMS = SHARED.extend(
    Code("too_many_rules", 409, f"A community has at most {MAX_RULES} keyword rules: delete one first."),
    Code(
        "invalid_signature", 403, "The request is not signed by WeChat (signature, timestamp or key).", action="wechat"
    ),
)
