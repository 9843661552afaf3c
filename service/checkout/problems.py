"""The problem codes of the checkout domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code("owner_must_transfer", 409, "The owner cannot leave: transfer ownership first."),
)
