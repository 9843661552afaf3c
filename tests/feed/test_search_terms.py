"""The index and the query read text alike: PostgreSQL's search_terms() (what posts and comments are indexed by) gives
exactly the terms that the rules of service/feed/search.py (what a query is cut by) give, over sample texts and over
every character outside the private-use planes (docs/search.md)."""

from __future__ import annotations

import re

import pytest

from service.feed import search

MAX_POSITION = 16383  # a tsvector's
CJK = re.compile(f"[{search._CJK}]")


def python_terms(text: str) -> dict[str, list[int]]:
    """The terms of a text as search.py reads it: a CJK run's overlapping bigrams and its last character, a word
    whole (at most 64 characters), each at its position."""
    terms: dict[str, set[int]] = {}
    start = 0
    for word in search.words(text):
        if CJK.match(word):
            for i in range(len(word)):
                terms.setdefault(word[i : i + 2], set()).add(min(start + i + 1, MAX_POSITION))
            start += len(word)
        else:
            terms.setdefault(word[:64], set()).add(min(start + 1, MAX_POSITION))
            start += 1
    return {term: sorted(positions) for term, positions in terms.items()}


async def sql_terms(db, texts: list[str]) -> list[dict[str, list[int]]]:
    rows = await db.fetch(
        "SELECT t.n, u.lexeme, u.positions FROM unnest($1::text[]) WITH ORDINALITY t (doc, n), "
        "unnest(search_terms(t.doc)) u",
        texts,
    )
    found: list[dict[str, list[int]]] = [{} for _ in texts]
    for row in rows:
        found[row["n"] - 1][row["lexeme"]] = list(row["positions"])
    return found


SAMPLES = [
    "今天早上去跑步了",
    "中午去𠮷野家吃饭，𠀀𪚥𫝀𬺰𰀀",  # Extension B to G
    "欢迎加入〇〇群，二〇二六年",
    "人々、時々 ㄅㄆㄇㄈ ㆠㆡ",  # 々, Bopomofo and its extension
    "㐀㐁 丽丸 ︰",  # Extension A, compatibility ideographs, a compatibility form
    "新款ｉＰｈｏｎｅ\u3000１５到货了 iPhone 15",
    "Crème brûlée ÀÉ Ÿ Running RUN",
    "カタカナ ひらがな 한국어",
    "😀明天也一起跑步吧 #夜跑# @bob",
    "x" * 100 + " 跑步",
    " ".join(f"w{i}" for i in range(MAX_POSITION)) + " 跑步了",  # positions stop at 16383
    "  ，！ ",
    "",
]


async def test_index_and_query_read_sample_texts_alike(db):
    assert await sql_terms(db, SAMPLES) == [python_terms(text) for text in SAMPLES]


@pytest.mark.slow  # 10 s: 327,000 characters
async def test_index_and_query_read_every_character_alike(db):
    """Every character Unicode assigns, each doubled: a CJK character gives its bigram and itself, a word's its word,
    folded; anything else nothing. That is planes 0-3 (but NUL and surrogates, which no text holds) and 14; planes
    4-13 hold no character, 15 and 16 only private use."""
    planes = [*range(1, 0xD800), *range(0xE000, 0x40000), *range(0xE0000, 0xF0000)]
    texts = [" ".join(chr(p) * 2 for p in planes[i : i + 4096]) for i in range(0, len(planes), 4096)]
    assert await sql_terms(db, texts) == [python_terms(text) for text in texts]
