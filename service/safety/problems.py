"""The problem codes of the safety domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code("cannot_block_yourself", 422, "You cannot block yourself.", action="fix"),
    Code("too_many_blocks", 409, "Your block list holds MAX_BLOCKS members already: unblock someone first."),
)
