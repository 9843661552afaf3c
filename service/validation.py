"""Every bad field of a request body at once, at its path as the client sent it (camelCase, dotted).

msgspec stops at the first error. When a body fails, the error handler asks `field_errors` to check the
decoded JSON again, field by field and into nested objects and lists, so a form can mark every input it
must fix. Each error carries a stable `reason` and a short message without the decoder's internals
(no regular expressions). A field a model no longer takes is refused like any unknown field; when the model
names it in `removed_fields` (a ClassVar: sent name -> message), the message says what replaced it.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Union, get_args, get_origin

import msgspec

_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")

# The decoder's message -> (reason, a short message), first match wins.
_RULES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"Object missing required field `(?P<x>[^`]+)`"), "required", "is required"),
    (re.compile(r"Object contains unknown field `(?P<x>[^`]+)`"), "unknown_field", "is not a field of this request"),
    (re.compile(r"Expected `str` of length >= (?P<x>\d+)"), "too_short", "needs at least {x} characters"),
    (re.compile(r"Expected `str` of length <= (?P<x>\d+)"), "too_long", "takes at most {x} characters"),
    (re.compile(r"Expected `\w+` of length >= (?P<x>\d+)"), "too_short", "needs at least {x} items"),
    (re.compile(r"Expected `\w+` of length <= (?P<x>\d+)"), "too_long", "takes at most {x} items"),
    (re.compile(r"Expected `[\w ]+` >= (?P<x>[\d.-]+)"), "too_small", "must be at least {x}"),
    (re.compile(r"Expected `[\w ]+` > (?P<x>[\d.-]+)"), "too_small", "must be more than {x}"),
    (re.compile(r"Expected `[\w ]+` <= (?P<x>[\d.-]+)"), "too_large", "must be at most {x}"),
    (re.compile(r"Expected `[\w ]+` < (?P<x>[\d.-]+)"), "too_large", "must be less than {x}"),
    (re.compile(r"Expected `str` matching regex"), "pattern", "is not in the expected format"),
    (re.compile(r"Invalid enum value (?P<x>.+)"), "not_allowed", "is not one of the allowed values"),
    (re.compile(r"Expected `(?P<x>[^`]+)`, got `[^`]+`"), "type", "must be {x}"),
]


# No request of the API nests deeper than a few levels. The untyped decoding of a body 1,000 levels deep raised
# RecursionError (a 500 and a traceback per request); such bodies are refused before they are decoded.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(rb"[\[\]{}]")


_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_NOT_STRUCTURE = bytes(set(range(256)) - set(b'"[]{}'))
_NOT_BRACKET = bytes(set(range(256)) - set(b"[]{}"))


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON ``body`` nests arrays and objects more than ``limit`` levels deep (brackets inside
    strings do not count). Counting the opening brackets, two memchr-speed scans, settles almost every body."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    # Without an escape no string holds a quote: only quotes and brackets matter, kept by C-speed passes (the
    # string regex over the whole of a 12 KB event batch cost 0.3 ms), and what lies between a quote and the
    # next is a string.
    structure = body.translate(None, _NOT_STRUCTURE)
    if b"\\" in body or structure.count(b'"') % 2:
        structure = _JSON_STRING.sub(b"", body)
    else:
        structure = b"".join(structure.split(b'"')[::2])
    # The depth after each bracket, summed at C speed: the deepest one decides.
    return max(accumulate(map(_STEP.__getitem__, structure.translate(None, _NOT_BRACKET))), default=0) > limit


# JSON Schema's integer takes 199.0 (a number with no fraction); msgspec's strict decoding takes only 199.
_INTEGRAL_FLOAT = re.compile(rb"[0-9]\.0+(?=[\s,\]}]|$)")
_STRING_OR_ZEROS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|(?<=[0-9])\.0+(?=[\s,\]}]|$)')


def integral_numbers(body: bytes) -> bytes:
    """``body`` with every number written with a zero fraction (``199.0``) written as an integer (``199``),
    outside strings. A float field takes either; an integer field takes only the second when decoded strictly."""
    if b".0" not in body or not _INTEGRAL_FLOAT.search(body):  # the substring test: a memchr-speed scan
        return body
    return _STRING_OR_ZEROS.sub(lambda match: match[0] if match[0][:1] == b'"' else b"", body)


@dataclass(frozen=True)
class BadField:
    path: str
    reason: str
    message: str


def explain(message: str) -> tuple[str, str]:
    """A decoder's (or Litestar's) message as (stable reason, short message)."""
    message = _AT.sub("", message)
    for pattern, reason, text in _RULES:
        if match := pattern.search(message):
            return reason, text.format(x=match.groupdict().get("x", ""))
    return "invalid", "is not valid"


def field_errors(model: Any, value: Any, path: str = "") -> list[BadField]:
    """Every error of ``value`` against the msgspec type ``model``; [] when it converts."""
    struct = _struct_of(model)
    if struct is not None and isinstance(value, dict):
        return _struct_errors(struct, value, path)
    item = _list_item_of(model)
    if item is not None and isinstance(value, list) and _struct_of(item) is not None:
        found = []
        for index, element in enumerate(value):
            found += field_errors(item, element, f"{path}[{index}]")
        return found or _convert_errors(model, value, path)
    return _convert_errors(model, value, path)


def _struct_errors(struct: type[msgspec.Struct], value: dict, path: str) -> list[BadField]:
    found: list[BadField] = []
    fields = msgspec.structs.fields(struct)
    known = {field.encode_name for field in fields}
    for field in fields:
        where = f"{path}.{field.encode_name}" if path else field.encode_name
        if field.encode_name not in value:
            if field.required:
                found.append(BadField(where, "required", "is required"))
            continue
        found += field_errors(field.type, value[field.encode_name], where)
    if struct.__struct_config__.forbid_unknown_fields:
        removed: dict[str, str] = getattr(struct, "removed_fields", {})
        for name in value:
            if name not in known:
                where = f"{path}.{name}" if path else name
                found.append(BadField(where, "unknown_field", removed.get(name, "is not a field of this request")))
    return found


def _convert_errors(model: Any, value: Any, path: str) -> list[BadField]:
    try:
        msgspec.convert(value, model, strict=True, str_keys=True)
    except msgspec.ValidationError as error:
        message = str(error)
        at = _AT.search(message)
        where = path + (at["path"] if at else "")
        reason, text = explain(message)
        return [BadField(where.lstrip("."), reason, text)]
    except (TypeError, ValueError):
        return []  # a type this check cannot judge: the decoder's own error stands
    return []


def _unwrapped(model: Any) -> Any:
    while get_origin(model) is not None and hasattr(model, "__metadata__"):  # Annotated[...]
        model = get_args(model)[0]
    return model


def _struct_of(model: Any) -> type[msgspec.Struct] | None:
    """The Struct of ``model``, ``Struct | None`` included."""
    model = _unwrapped(model)
    if isinstance(model, type) and issubclass(model, msgspec.Struct):
        return model
    if get_origin(model) in (Union, types.UnionType):
        structs = [arg for arg in get_args(model) if arg is not type(None)]
        if len(structs) == 1:
            return _struct_of(structs[0])
    return None


def _list_item_of(model: Any) -> Any:
    model = _unwrapped(model)
    return get_args(model)[0] if get_origin(model) in (list, tuple) and get_args(model) else None
