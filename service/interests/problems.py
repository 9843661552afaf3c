"""The problem codes of the interests domain: the core's (service/errors.py)."""

from __future__ import annotations

from service.core.problems import SHARED

PROBLEMS = SHARED
