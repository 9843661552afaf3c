"""Matching a text against keyword rules, safely.

- exact: the whole text (trimmed, case-folded) equals the keyword (trimmed, case-folded)
- contains: the keyword (case-folded) occurs in the text (case-folded)
- regex: a pattern of at most 100 characters, run by the `regex` package with a timeout per match, on at
  most MATCH_TEXT_MAX characters of text. At creation a pattern is compiled and tried against inputs known to
  make backtracking explode; one that runs out of time there is refused (`pattern_too_slow`). A pattern
  that still runs out of time later counts as no match (and is logged), so a bad rule can never stall a post.
"""

from __future__ import annotations

import functools
import logging

import regex

log = logging.getLogger("service.robots")

PATTERN_MAX = 100
MATCH_TEXT_MAX = 2000
MATCH_TIMEOUT = 0.02  # seconds per match
PROBE_TIMEOUT = 0.05
# Inputs that make catastrophic patterns ((x+x+)+y, (\w+\s?)+$, ...) backtrack explosively: long runs of
# each character the pattern names (and of a few generic ones), ended by a character that breaks the match.
_GENERIC = "a1 _-."
_RUN = 400


def _probes(pattern: str) -> list[str]:
    chars = dict.fromkeys(ch for ch in pattern + _GENERIC if ch.isalnum() or ch in " _-.")
    probes = [ch * _RUN + end for ch in list(chars)[:12] for end in ("!", "\u0000")]
    probes.append(("ab " * _RUN) + "!")
    return probes


class PatternError(ValueError):
    pass


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> regex.Pattern:
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.V0)
    except regex.error as exc:
        raise PatternError(f"not a valid pattern: {exc}") from None


def validate_pattern(pattern: str) -> None:
    """Refuse a pattern that does not compile or that backtracks catastrophically on the probes."""
    if len(pattern) > PATTERN_MAX:
        raise PatternError(f"a pattern has at most {PATTERN_MAX} characters")
    compiled = compile_pattern(pattern)
    for probe in _probes(pattern):
        try:
            compiled.search(probe, timeout=PROBE_TIMEOUT)
        except TimeoutError:
            raise PatternError("the pattern backtracks catastrophically (it ran out of time on a test input)") from None


def matches(mode: str, keyword: str, text: str) -> bool:
    text = text[:MATCH_TEXT_MAX]
    if mode == "exact":
        return text.strip().casefold() == keyword.strip().casefold()
    if mode == "contains":
        return keyword.casefold() in text.casefold()
    try:
        return compile_pattern(keyword).search(text, timeout=MATCH_TIMEOUT) is not None
    except TimeoutError:
        log.warning("keyword pattern ran out of time", extra={"pattern": keyword[:PATTERN_MAX]})
        return False
    except PatternError:
        return False
