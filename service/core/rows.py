"""Rows to response Structs, one way for every domain; and a row's lock in its community.

The SQL names each column as the Struct's field. Ids are bigints in the database and strings on the wire:
`from_row` turns an integer into text where the Struct's field is a string, and otherwise only picks the
fields, without re-validating what PostgreSQL already typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

import asyncpg
import msgspec.inspect as mi

from service.errors import FieldError, Problem

T = TypeVar("T")


def from_row(model: type[T], row: Mapping[str, Any], **extra: Any) -> T:
    """A response Struct from a row whose column names are the Struct's field names (``extra`` overrides)."""
    values = {**row, **extra}
    texts = _text_fields(model)
    return model(
        **{
            name: str(value) if type(value) is int and name in texts else value
            for name in model.__struct_fields__  # type: ignore[attr-defined]
            if name in values
            for value in (values[name],)
        }
    )


@cache
def _text_fields(model: type) -> frozenset[str]:
    """The fields a Struct types as a string (possibly null): where an id column's integer becomes text."""

    def is_text(kind: mi.Type) -> bool:
        kind = kind.type if isinstance(kind, mi.Metadata) else kind
        if isinstance(kind, mi.UnionType):
            return any(is_text(member) for member in kind.types)
        return isinstance(kind, mi.StrType)

    return frozenset(field.name for field in mi.type_info(model).fields if is_text(field.type))


def invalid(field: str, message: str) -> Problem:
    """`validation_failed` for one body field that the decoder could not judge (a rule across fields)."""
    return Problem("validation_failed", message, errors=[FieldError(field=field, message=message, source="body")])


async def lock_in_community(
    conn: asyncpg.Connection, community_of: str, lock: str, key: Any, *args: Any
) -> asyncpg.Record | None:
    """The row of `key`, locked: `community_of` ($1 the key) reads its community, unlocked, then `lock` ($1 the
    community, $2 the key, then `args`) locks it there. None when there is no such row (or it went in between).

    Citus routes a statement to one shard, and so takes a row lock at all, only when it names the distribution
    column (community_id); a row's community never changes, so the unlocked read first is safe.
    """
    community_id = await conn.fetchval(community_of, key)
    return None if community_id is None else await conn.fetchrow(lock, community_id, key, *args)


async def claim_each(
    conn: asyncpg.Connection | asyncpg.Pool, due: list[asyncpg.Record], claim: str, *args: Any
) -> list[asyncpg.Record]:
    """The rows `claim` takes of those a job found `due` across communities without a lock: its parameters are
    each due row's columns (the community first, then the key), then `args`. A row another worker holds, or
    that is no longer due, is skipped (the claim's SKIP LOCKED and its conditions answer nothing).

    Citus locks no row by a statement spanning the shards, so the due rows are found first, then each claimed on
    its community's shard."""
    return [row for d in due if (row := await conn.fetchrow(claim, *d.values(), *args)) is not None]
