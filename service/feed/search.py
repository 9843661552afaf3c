"""Search in a community: posts and comments by words, Chinese included (docs/search.md).

Texts are indexed by PostgreSQL's `search_terms` (migrations 0024, 0056, 0063): CJK runs as overlapping bigrams plus
their last character, other words whole. A query is cut by the same rules here: a CJK run of two or more characters
must appear as consecutive bigrams (a phrase), one character or a word as a prefix; all of them must match.
Hits are ranked by ts_rank; each carries a snippet of its text around the first match, and the ranges of
the query's words in it, in UTF-16 code units (what a mini program's JavaScript strings index).
"""

from __future__ import annotations

import re

import asyncpg

from service.core import ratelimit
from service.core.access import require_member
from service.core.paging import decode_cursor, encode_cursor
from service.core.rows import from_row
from service.db.replica import ReadRouter
from service.errors import Problem
from service.feed import models as m
from service.feed import search_queries as sq
from service.settings import Settings

# The same classes as search_terms() (migration 0063; tests/feed/test_search_terms.py compares the two over every
# character outside the private-use planes): Han (々 and 〇, the basic block, Extension A, compatibility ideographs,
# the supplementary planes' Extension B and later), kana, Bopomofo, Hangul; ASCII and Latin letters, digits.
_CJK = (
    "\u3005\u3007\u3040-\u30ff\u3100-\u312f\u31a0-\u31bf\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
    "\U00020000-\U0003ffff"
)
_WORD = "0-9a-z\u00c0-\u024f"
_TOKEN = re.compile(f"[{_CJK}]+|[{_WORD}]+")
_UPPER, _LOWER, _DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz", "0123456789"
# What search_terms() folds (migration 0056): ASCII capitals, and full-width digits and letters (０-９ Ａ-Ｚ ａ-ｚ: a
# Chinese keyboard's full-width mode), to ASCII digits and small letters. One character for one, so offsets in the
# folded text are offsets in the text (snippets).
_FULL_WIDTH = "".join(chr(ord(char) + 0xFEE0) for char in _DIGITS + _UPPER + _LOWER)
_FOLD = str.maketrans(_UPPER + _FULL_WIDTH, _LOWER + _DIGITS + _LOWER + _LOWER)
SNIPPET_CHARS = 60  # of text around the first match
_BEFORE = 15  # characters shown before it


def words(q: str) -> list[str]:
    """The query's words, as search_terms() cuts a text."""
    return _TOKEN.findall(q.translate(_FOLD))


def tsquery(found: list[str]) -> str:
    """A tsquery (its text form) that every word must match: a CJK run as a phrase of its bigrams, a single
    character or a word as a prefix. Words hold letters only, so quoting them needs no escaping."""
    parts = []
    for word in found:
        if len(word) > 1 and re.match(f"[{_CJK}]", word):
            parts.append("(" + " <-> ".join(f"'{word[i : i + 2]}'" for i in range(len(word) - 1)) + ")")
        else:
            parts.append(f"'{word[:64]}':*")
    return " & ".join(parts)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _matching(word: str) -> re.Pattern[str]:
    """Where a query word matches a text as the index matches it: a CJK run anywhere, another word only at the
    start of a word (`run` in "Running", not in "Bruno")."""
    if re.match(f"[{_CJK}]", word):
        return re.compile(re.escape(word))
    return re.compile(f"(?<![{_WORD}]){re.escape(word)}")


def snippet(text: str, found: list[str]) -> tuple[str, list[list[int]]]:
    """The text around the first match (with … where it is cut) and the matches in it as [start, end) ranges
    in UTF-16 code units."""
    lowered = text.translate(_FOLD)
    patterns = [_matching(word) for word in found]
    first = min((match.start() for pattern in patterns if (match := pattern.search(lowered))), default=0)
    start = max(0, first - _BEFORE)
    end = min(len(text), start + SNIPPET_CHARS)
    prefix = "…" if start > 0 else ""
    shown = prefix + text[start:end] + ("…" if end < len(text) else "")
    spans: list[tuple[int, int]] = []
    for pattern in patterns:
        for match in pattern.finditer(lowered, start):
            if match.start() >= end:
                break
            spans.append((match.start(), min(match.end(), end)))
    merged: list[list[int]] = []
    for begin, stop in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)  # overlapping matches show as one
        else:
            merged.append([begin, stop])
    offset = _utf16(prefix)
    return shown, [[offset + _utf16(text[start:b]), offset + _utf16(text[start:e])] for b, e in merged]


async def search(
    reads: ReadRouter, settings: Settings, community_id: int, user_id: int, q: str, limit: int, cursor: str | None
) -> m.SearchPage:
    """The caller's standing is checked on the primary; the hits come from the replica when it is usable (they
    show what every member sees, at most REPLICA_MAX_LAG seconds late: service/db/replica.py). Every page counts
    against the member's SEARCH_PER_MINUTE before it is searched: a search costs the database about 70 ms."""
    found = words(q)
    if not found:
        raise Problem("search_query_blank")
    async with reads.primary.acquire() as conn:
        await require_member(conn, community_id, user_id)
        limits = {f"search:{user_id}": settings.search_per_minute}
        await ratelimit.hit(conn, limits, 60, f"at most {settings.search_per_minute} searches a minute")
    after = decode_cursor(cursor, float, str, int) or (None, None, None)

    async def hits(conn: asyncpg.Connection, _as_of: object) -> list[asyncpg.Record]:
        async with conn.transaction():
            # How to find the candidates depends on how common the words are (walk the newest posts, or read
            # the index): a plan made once for any query would read every match of a common word.
            await conn.execute(sq.CUSTOM_PLANS)
            return await conn.fetch(sq.SEARCH, community_id, tsquery(found), user_id, *after, limit + 1)

    rows = await reads.read(hits)
    items = []
    for row in rows[:limit]:
        text, highlights = snippet(row["text"], found)
        author = from_row(m.Author, row, id=row["author_id"])
        items.append(from_row(m.SearchHit, row, author=author, snippet=text, highlights=highlights))
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = None if last is None else encode_cursor(last["rank"], last["kind"], last["id"])
    return m.SearchPage(items=items, next_cursor=next_cursor)
