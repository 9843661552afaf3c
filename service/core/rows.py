"""Rows to response Structs, one way for every domain.

The SQL names each column as the Struct's field and casts ids to text (`id::text AS id`): ids are strings on
the wire. `from_row` then only picks the fields, without re-validating what PostgreSQL already typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from service.core.paging import encode_cursor
from service.errors import FieldError, Problem

T = TypeVar("T")


def from_row(model: type[T], row: Mapping[str, Any], **extra: Any) -> T:
    """A response Struct from a row whose column names are the Struct's field names (``extra`` overrides)."""
    values = {**row, **extra}
    return model(**{name: values[name] for name in model.__struct_fields__ if name in values})  # type: ignore[attr-defined]


def page_of(
    model: type[T], page_model: type, rows: Sequence[Mapping[str, Any]], limit: int, cursor_of: Callable[[Any], tuple]
) -> Any:
    """A page of ``limit`` items from up to ``limit + 1`` rows; the cursor holds the sort key of the last one."""
    items = [from_row(model, row) for row in rows[:limit]]
    next_cursor = encode_cursor(*cursor_of(rows[limit - 1])) if len(rows) > limit else None
    return page_model(items=items, next_cursor=next_cursor)


def invalid(field: str, message: str) -> Problem:
    """`validation_failed` for one body field that the decoder could not judge (a rule across fields)."""
    return Problem("validation_failed", message, errors=[FieldError(field=field, message=message, source="body")])
