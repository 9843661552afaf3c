"""Every pattern of the spec judges every string alike in Python's `re`, which msgspec decodes with
(`re.search`), and in an ECMA-262 JSON Schema validator, which clients and the contract fuzzer read it with
(service/patterns.py says where the two differ)."""

from __future__ import annotations

import json
import re

import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import ROOT


def patterns(node) -> set[str]:
    if isinstance(node, dict):
        own = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return own.union(*(patterns(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(patterns(value) for value in node))
    return set()


PATTERNS = sorted(patterns(json.loads((ROOT / "openapi" / "openapi.json").read_text())))
TRICKY = st.sampled_from(["\n", "\r", "\x1c", "\x1f", "\x85", "\ufeff", "\u3000", " ", "\t", "\x00"])


def test_the_spec_has_patterns_to_check():
    assert len(PATTERNS) >= 10


@pytest.mark.parametrize("pattern", PATTERNS)
@given(data=st.data())
def test_python_and_json_schema_agree(pattern, data):
    schema = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
    matching = data.draw(st.from_regex(pattern, fullmatch=True), label="matching")
    edit = data.draw(st.text(TRICKY, min_size=1, max_size=2), label="edit")
    position = data.draw(st.integers(0, len(matching)), label="position")
    for text in (matching, matching + edit, edit + matching, matching[:position] + edit + matching[position:]):
        assert (re.search(pattern, text) is not None) == schema.is_valid(text), repr(text)
