"""Matching a text against keyword rules, safely.

- exact: the whole text (trimmed, folded) equals the keyword (trimmed, folded)
- contains: the keyword (folded) occurs in the text (folded)
  Folded: NFKC, then case-folded: Chinese keyboards type full-width letters, digits, punctuation and spaces
  (ＶＩＰ, ？, U+3000), which must match the half-width ones an admin wrote (and the other way round).
- regex: a pattern of at most 100 characters, run by the `regex` package with a timeout per match, on at
  most MATCH_TEXT_MAX characters of text. Before compiling, a pattern whose counted repeats ({m,n}) multiply
  beyond REPEAT_MAX along one nesting is refused: the compiled program holds every repetition, so 24
  characters can take seconds and gigabytes to compile, before any timeout applies. At creation a pattern is
  then tried against inputs known to make backtracking explode (runs of one character or of two alternating,
  ASCII and Chinese); one that runs out of time there, on one input or over all of them (PROBE_BUDGET), is
  refused. A pattern that still runs out of time later counts as no match (and is logged), so a bad
  rule can never stall a post. The regex rules a text is tried against share MATCH_BUDGET: once it is spent,
  the rest count as no match, so a text costs at most about MATCH_BUDGET however many regex rules there are.
  Callers run `match_rules` in a worker thread: the `regex` package releases the GIL while it searches
  (concurrent=True), so the process serves other requests meanwhile.
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
import unicodedata
from collections.abc import Sequence

import regex
from regex import _regex_core

log = logging.getLogger("service.robots")

PATTERN_MAX = 100
MATCH_TEXT_MAX = 2000
MATCH_TIMEOUT = 0.02  # seconds per match
# Seconds of regex matching per text, across all the rules it is tried against (50, all regex, would otherwise
# be a second per post).
MATCH_BUDGET = 0.1
PROBE_TIMEOUT = 0.05
# Seconds of probing per pattern, all probes together (a pattern spending almost PROBE_TIMEOUT on each would hold
# a worker thread for seconds).
PROBE_BUDGET = 0.5
FLAGS = regex.IGNORECASE | regex.V0
# The largest product of counted repeat bounds along one nesting: (?:\w{45}...){1000} compiles in ~7 ms,
# (?:(?:a{100}){100}){100} in ~0.5 s and 250 MB.
REPEAT_MAX = 1000
# Inputs that make catastrophic patterns ((x+x+)+y, (\w+\s?)+$, ...) backtrack explosively: long runs of
# each character the pattern names (and of a few generic ones), ended by a character that breaks the match.
# Runs alternating between two of those characters too: alternatives that overlap on mixed text
# (^(?:x|xy|y)*z, (a|ab|b)+$) split "xyxy…" in exponentially many ways, and a run of one character has just one.
# Each run is also followed, after the break, by the pattern's own text: the `regex` package gives up at once on
# a text that lacks a literal the pattern requires (the z above, the # of (?:\d|\d\d|-)+#).
# Chinese text too: a class such as \p{Han} names no character of its own ((\p{Han}|\p{Han}\p{Han})+$ passes
# every ASCII input and then spends the whole timeout on each Chinese post).
_GENERIC = "a1 _-."
_RUN = 400
_PAIR_RUN = 100  # 50 pairs: 2^50 ways already, and 66 pairs of characters to try
_CHINESE = ("中" * _RUN, "你好，" * (_RUN // 3), "今天 ok 123，去跑步。" * (_RUN // 14))


def _probes(pattern: str) -> list[str]:
    # Not ASCII: never a metacharacter, so a Han character or Chinese punctuation of the pattern is one to run.
    chars = dict.fromkeys(ch for ch in pattern + _GENERIC if ch.isalnum() or ch in " _-." or not ch.isascii())
    chars = list(chars)[:12]
    probes = [ch * _RUN + end + tail for ch in chars for end in ("!", "\u0000") for tail in ("", pattern)]
    probes.extend(
        (a + b) * (_PAIR_RUN // 2) + "!" + tail for a, b in itertools.combinations(chars, 2) for tail in ("", pattern)
    )
    probes.append(("ab " * _RUN) + "!")
    probes.extend(text + end + tail for text in _CHINESE for end in ("!", "。", "\u0000") for tail in ("", pattern))
    return probes


class PatternError(ValueError):
    pass


def _parse(pattern: str) -> _regex_core.RegexBase:
    """The pattern as the `regex` package reads it (as regex.compile does), without building its program: a
    parser of our own could be misled by classes, escapes, comments or verbose mode into missing a repeat."""
    flags = FLAGS
    while True:
        source = _regex_core.Source(pattern)
        info = _regex_core.Info(flags, source.char_type, {})
        source.ignore_space = bool(info.flags & regex.VERBOSE)
        source.use_unicode_space(bool(info.flags & regex.VERSION1))
        try:
            return _regex_core._parse_pattern(source, info)
        except _regex_core._UnscopedFlagSet:  # a global flag met late: read again with it, as compile does
            flags = info.global_flags


def _repeat_product(node: object) -> int:
    """The largest product of counted repeat bounds along one nesting (an open bound, {n,} or *, counts n)."""
    children = []
    for value in vars(node).values():
        items = value if isinstance(value, list | tuple) else (value,)
        children.extend(item for item in items if isinstance(item, _regex_core.RegexBase))
    inner = max(map(_repeat_product, children), default=1)
    if isinstance(node, _regex_core.GreedyRepeat):  # lazy and possessive repeats too
        return max(node.min_count if node.max_count is None else node.max_count, 1) * inner
    return inner


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> regex.Pattern:
    try:
        # Before compiling: a rule stored before this check must not be compiled on the event loop either.
        if _repeat_product(_parse(pattern)) > REPEAT_MAX:
            raise PatternError(
                f"the pattern repeats too much: its counted repeats ({{m,n}}), multiplied through the groups "
                f"they nest in, may come to at most {REPEAT_MAX}"
            )
        return regex.compile(pattern, FLAGS)
    except PatternError:
        raise
    except (regex.error, ValueError) as exc:  # clashing flags, (?V1) or (?a)(?u), raise a bare ValueError
        raise PatternError(f"not a valid pattern: {exc}") from None


def validate_pattern(pattern: str) -> None:
    """Refuse a pattern that does not compile or that backtracks catastrophically on the probes."""
    if len(pattern) > PATTERN_MAX:
        raise PatternError(f"a pattern has at most {PATTERN_MAX} characters")
    compiled = compile_pattern(pattern)
    deadline = time.monotonic() + PROBE_BUDGET
    for probe in _probes(pattern):
        try:
            if (left := deadline - time.monotonic()) <= 0:
                raise TimeoutError
            compiled.search(probe, timeout=min(PROBE_TIMEOUT, left))
        except TimeoutError:
            raise PatternError(
                "the pattern backtracks catastrophically (it ran out of time on the test inputs)"
            ) from None


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _search(keyword: str, text: str, timeout: float) -> bool:
    try:
        return compile_pattern(keyword).search(text, timeout=timeout, concurrent=True) is not None
    except TimeoutError:
        log.warning("keyword pattern ran out of time", extra={"pattern": keyword[:PATTERN_MAX]})
        return False
    except PatternError:
        return False


def match_rules(rules: Sequence[tuple[str, str]], text: str) -> list[bool]:
    """Whether each (mode, keyword) matches ``text``, in order; the regex ones within MATCH_BUDGET together
    (compiling included). Blocks for up to about MATCH_BUDGET: run it off the event loop."""
    text = text[:MATCH_TEXT_MAX]
    folded = _fold(text)
    deadline = time.monotonic() + MATCH_BUDGET
    found, skipped = [], 0
    for mode, keyword in rules:
        if mode == "exact":
            found.append(folded.strip() == _fold(keyword).strip())
        elif mode == "contains":
            found.append(_fold(keyword) in folded)
        elif (left := deadline - time.monotonic()) > 0:
            found.append(_search(keyword, text, min(MATCH_TIMEOUT, left)))
        else:
            found.append(False)
            skipped += 1
    if skipped:
        log.warning("keyword patterns skipped: the text's matching time was spent", extra={"skipped": skipped})
    return found
