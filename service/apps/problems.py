"""The problem codes of the apps domain, over the core's (service/errors.py): its routes list only these."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code(
        "app_not_renewable",
        409,
        "Only a priced monthly app can be renewed, and not one the community has already bought for good.",
    ),
)
