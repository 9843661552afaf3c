"""JSON built as text in SQL (core/json_text.py) reads as json_build_object's: every value, NULLs, escaping."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg
import pytest

from service.core.json_text import array, literal, obj, quoted, string, timestamp

# Texts a member may write, and what JSON must escape in them.
AWKWARD = [
    "普通的一句话",
    'a "quoted" word',
    "back\\slash",
    "line\nbreak\tand tab",
    "\x01\x1f control",
    "emoji 🏃‍♀️ and \u2028 separator",
    "",
]


async def test_each_value_reads_as_json_build_objects(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        for text in [*AWKWARD, None]:
            built = obj(
                text=string("$1::text"),
                id=quoted("$2::bigint"),
                count=literal("$3::int"),
                flag=literal("$4::boolean"),
                tags=literal("to_json($5::text[])"),
                at=timestamp("$6::timestamptz"),
                nested=obj(inner=string("$1::text")),
            )
            reference = """json_build_object('text', $1::text, 'id', $2::bigint::text, 'count', $3::int,
                'flag', $4::boolean, 'tags', $5::text[],
                'at', to_char($6::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                'nested', json_build_object('inner', $1::text))::text"""
            for values in [
                (
                    text,
                    9007199254740993,
                    3,
                    True,
                    [text or "x", "标签"],
                    datetime(2026, 12, 7, 12, 0, 0, 1, tzinfo=UTC),
                ),
                (text, None, None, None, None, None),
            ]:
                mine, theirs = await conn.fetchrow(f"SELECT {built}, {reference}", *values)  # noqa: S608
                assert mine is not None
                assert json.loads(mine) == json.loads(theirs), (text, values)
        assert await conn.fetchval(f"SELECT {obj(a=literal('1'), b=literal('2'))}") == '{"a":1,"b":2}'  # noqa: S608
    finally:
        await conn.close()


async def test_an_array_keeps_its_order_and_is_empty_without_rows(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        item = obj(n=literal("g"), word=string("w"))
        rows = "(VALUES (2, '二'), (1, '一'), (3, '三')) v(g, w)"
        assert json.loads(await conn.fetchval(f"SELECT {array(item, 'g')} FROM {rows}")) == [  # noqa: S608
            {"n": 1, "word": "一"},
            {"n": 2, "word": "二"},
            {"n": 3, "word": "三"},
        ]
        assert await conn.fetchval(f"SELECT {array(item, 'g')} FROM {rows} WHERE false") == "[]"  # noqa: S608
    finally:
        await conn.close()


def test_a_key_is_a_plain_name():
    with pytest.raises(ValueError, match="not a plain key"):
        obj(**{"bad'key": "1"})
