"""The problem codes of the brands domain, over the core's (service/errors.py)."""

from __future__ import annotations

from service.core.problems import SHARED
from service.errors import Code

PROBLEMS = SHARED.extend(
    Code("community_in_brand", 409, "The community already belongs to another brand."),
    Code("community_in_series", 409, "The community already belongs to a series."),
)
