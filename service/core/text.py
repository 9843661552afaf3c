"""One policy for every text a client sends (docs/security.md): names, tags, titles, posts, comments, keywords.

- Normalised to NFC, so one spelling of "é" is stored, compared and counted.
- Refused (400 validation_failed, reason `character`): control characters other than tab, line feed and
  carriage return (C0, DEL, C1), the bidirectional overrides and isolates U+202A-U+202E and U+2066-U+2069
  (they reorder what follows on screen: display spoofing), the byte order mark U+FEFF and the noncharacters
  U+FFFE and U+FFFF.
- Blank: made only of white space and zero-width characters (U+200B-U+200D, U+2060). A text that must not be
  empty (min_length >= 1) must not be blank either (reason `blank`).

It applies to every `str` of a decoded body (service/request.py); a text with a pattern of its own (ids, codes,
the nickname) leaves blanks to its pattern, whose class of allowed characters excludes the refused ones
(`REFUSED`). Query values are held to the refused characters too (service/middleware.py). The spec states
the policy with the same expressions (`TEXT_PATTERN`, `VISIBLE_TEXT_PATTERN`, added by service/openapi.py to
the texts of request bodies), written to mean the same to Python and ECMA-262 (service/core/patterns.py).
"""

from __future__ import annotations

import functools
import re
import types
import unicodedata
from typing import Any, Union, get_args, get_origin

import msgspec

from service.core.patterns import END
from service.validation import BadField

REFUSED = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff"
INVISIBLE = r"\s\u200b-\u200d\u2060"
TEXT_PATTERN = rf"^[^{REFUSED}]*{END}"
VISIBLE_TEXT_PATTERN = rf"^[^{REFUSED}]*[^{INVISIBLE}{REFUSED}][^{REFUSED}]*{END}"
_REFUSED_CHAR = re.compile(f"[{REFUSED}]")
_VISIBLE_CHAR = re.compile(f"[^{INVISIBLE}{REFUSED}]")
# Bodies that cannot break the policy: ASCII with no escape (\u, \b, \f), no DEL and no string of blanks only.
_SUSPECT = re.compile(rb'\\[ubf]|\x7f|"(?:[ \t\r\n]|\\[tnr])+"')


# A match of _SUSPECT needs one of these bytes: single-byte tests (memchr) settle compact JSON without the regex,
# which cost 0.2 ms on a 12 KB event batch.
_SUSPECT_BYTES = (b"\\", b"\x7f", b" ", b"\t", b"\r", b"\n")


def may_break_policy(body: bytes) -> bool:
    if not body.isascii():
        return True
    return any(byte in body for byte in _SUSPECT_BYTES) and _SUSPECT.search(body) is not None


def refused_character(text: str) -> str | None:
    """The first character of ``text`` the policy refuses, as U+XXXX; None when there is none."""
    bad = _REFUSED_CHAR.search(text)
    return f"U+{ord(bad[0]):04X}" if bad else None


def text_errors(value: Any, path: str = "") -> list[BadField]:
    """The texts of a decoded body (Structs, lists) that break the policy; normalises the others in place."""
    found: list[BadField] = []
    if isinstance(value, msgspec.Struct):
        for name, wire, rule in _plan(type(value)):
            where = f"{path}.{wire}" if path else wire
            item = getattr(value, name)
            if isinstance(item, str) and rule is not None:
                text, error = _judged(item, rule, where)
                if error:
                    found.append(error)
                elif text is not item:
                    msgspec.structs.force_setattr(value, name, text)
            else:
                found += _items_errors(item, rule, where)
    elif isinstance(value, list):
        found += _items_errors(value, None, path)
    return found


def _items_errors(item: Any, rule: int | None, where: str) -> list[BadField]:
    if isinstance(item, msgspec.Struct):
        return text_errors(item, where)
    found: list[BadField] = []
    if isinstance(item, list):
        for index, element in enumerate(item):
            if isinstance(element, str) and rule is not None:
                text, error = _judged(element, rule, f"{where}[{index}]")
                found += [error] if error else []
                item[index] = text
            elif isinstance(element, msgspec.Struct | list):
                found += text_errors(element, f"{where}[{index}]")
    return found


def _judged(text: str, min_length: int, where: str) -> tuple[str, BadField | None]:
    if bad := refused_character(text):
        return text, BadField(where, "character", f"must not contain the character {bad}")
    if min_length and _VISIBLE_CHAR.search(text) is None:
        return text, BadField(where, "blank", "must not be blank")
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text, None
    return unicodedata.normalize("NFC", text), None


@functools.cache
def _plan(struct: type[msgspec.Struct]) -> tuple[tuple[str, str, int | None], ...]:
    """(attribute, name on the wire, the min_length of its text or None when it holds no policed text)."""
    return tuple((f.name, f.encode_name, _text_rule(f.type)) for f in msgspec.structs.fields(struct))


def _text_rule(kind: Any) -> int | None:
    """For a field (or list) of text: the min_length below which blanks are refused (0: none, a pattern of its
    own decides); None for anything else."""
    metas: list[msgspec.Meta] = []
    while get_origin(kind) is not None and hasattr(kind, "__metadata__"):
        metas += [m for m in kind.__metadata__ if isinstance(m, msgspec.Meta)]
        kind = get_args(kind)[0]
    if get_origin(kind) in (Union, types.UnionType, list):
        rules = [rule for arm in get_args(kind) if (rule := _text_rule(arm)) is not None]
        return rules[0] if rules else None
    if kind is not str:
        return None
    return 0 if any(m.pattern for m in metas) else max((m.min_length or 0 for m in metas), default=0)
