"""The key under which two proposed names count as the same name.

Two proposals are duplicates when their keys are equal. The key is the name
1. in Unicode NFKC, so full-width and half-width forms (`ＡＢＣ`, `ｶﾞ`, `１２３`) and other compatibility
   forms become the same characters,
2. case-folded (`ABC`, `abc`, `ß`/`ss`),
3. without whitespace, separators and punctuation (Unicode categories Z* and P*, Western and CJK alike:
   `、。！「」・`) and without control and format characters (Cc, Cf: tabs, zero-width joiners),
repeated until nothing changes (removing a character can let NFKC compose its neighbours), so the key of a
key is itself.
"""

from __future__ import annotations

import unicodedata

# Letters, digits, symbols and marks stay; everything else is spacing or punctuation around them.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf"})
_MAX_ROUNDS = 8


def _kept(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] not in ("P", "Z") and category not in _DROPPED_CATEGORIES


def _round(text: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(char for char in folded if _kept(char))


def name_key(text: str) -> str:
    """The duplicate-detection key of a proposed name (may be empty: a name of only punctuation)."""
    key = _round(text)
    for _ in range(_MAX_ROUNDS):
        again = _round(key)
        if again == key:
            return key
        key = again
    return key


def display_name(text: str) -> str:
    """The name as shown: trimmed, inner runs of whitespace made one space, otherwise as typed."""
    return " ".join(text.split())
