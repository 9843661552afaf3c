"""One text policy for every text a client sends (service/core/text.py, docs/security.md): every text field of
every request body of the spec refuses a bidi override, and those that must not be empty refuse a value made
of blanks and zero-width spaces; the spec's patterns say so; texts are stored in NFC."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import KIT, api_client, make_settings
from tests.wechat_support import bearer, login
from tests.world import assert_problem

OPERATOR_KEY = "operator-key-for-text-policy-0123456789"
SPEC = json.loads((KIT / "openapi.json").read_text())
SCHEMAS = SPEC["components"]["schemas"]
SPOOFED = "ok\u202etxt"  # RIGHT-TO-LEFT OVERRIDE: what follows shows reversed
REFUSED = ["\x01", "\x7f", "\x85", "\u202a", "\u2066", "\u2069", "\ufeff", "\ufffe", "\uffff"]
BLANK = "\u200b \u200b\u3000"


def resolved(schema: dict) -> dict:
    return SCHEMAS[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema


def text_fields(schema: dict, path: str = "") -> Iterator[tuple[str, dict]]:
    """(path as the API names it, the schema holding its constraints) of every text of a request schema."""
    schema = resolved(schema)
    arms = [resolved(arm) for arm in schema.get("oneOf", []) + schema.get("allOf", [])]
    kinds = {kind for s in (schema, *arms) for kind in _types(s)}
    if "string" in kinds and not ({"format", "enum", "const"} & {k for s in (schema, *arms) for k in s}):
        yield path, schema
    for arm in [schema, *arms]:
        for name, sub in arm.get("properties", {}).items():
            yield from text_fields(sub, f"{path}.{name}" if path else name)
        if "items" in arm:
            yield from text_fields(arm["items"], f"{path}[0]")


def _types(schema: dict) -> list:
    kind = schema.get("type")
    return kind if isinstance(kind, list) else [kind]


def with_value(example: dict, path: str, value: str) -> dict:
    """``example`` with the field at ``path`` (dotted, [0] for a list's first item) set to ``value``."""
    body = json.loads(json.dumps(example))
    parts = re.findall(r"[^.\[\]]+|\[0\]", path)
    node: Any = body
    for part, following in zip(parts, [*parts[1:], None], strict=True):
        key: Any = 0 if part == "[0]" else part
        if following is None:
            if isinstance(node, list):
                node[:] = [value]
            else:
                node[key] = value
            break
        empty: Any = [{}] if following == "[0]" else {}
        if isinstance(node, list):
            if not node:
                node.append({} if following != "[0]" else [])
        elif not isinstance(node.get(key), dict | list) or not node[key]:
            node[key] = [] if following == "[0]" else empty
        node = node[key]
    return body


def operations() -> Iterator[tuple[str, str, str, str, dict, dict]]:
    """(operationId, method, url, text field, its schema, the operation's example body)."""
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None:
                continue
            examples = [e["value"] for e in content.get("examples", {}).values()] + content["schema"].get(
                "examples", []
            )
            example = examples[0] if examples else {}
            url = re.sub(r"\{[^}]+\}", "1", path)
            for field, holder in text_fields(content["schema"]):
                yield operation["operationId"], method, url, field, holder, example


CASES = list(operations())


def test_the_walk_finds_the_texts_of_every_request():
    fields = {(operation, field) for operation, _, _, field, _, _ in CASES}
    assert len(fields) > 90
    expected = [
        ("createCommunity", "name"),
        ("createCommunity", "tags[0]"),
        ("createPost", "text"),
        ("createComment", "text"),
        ("updateMe", "nickname"),
        ("createPoll", "rewards.product"),
    ]
    for pair in expected:
        assert pair in fields, pair


def test_the_spec_states_the_policy_on_every_text():
    for operation_id, _, _, field, holder, _ in CASES:
        assert "pattern" in holder, (operation_id, field)
        pattern = re.compile(holder["pattern"])
        for character in REFUSED:
            assert not pattern.search(f"a{character}b"), (operation_id, field, character)
        if holder.get("minLength", 0) >= 1:
            assert not pattern.search(BLANK), (operation_id, field)


@pytest.fixture
async def api(database_url, sandbox):
    async with api_client(
        make_settings(database_url, wechat_api_base=sandbox.url, operator_api_key=OPERATOR_KEY)
    ) as client:
        tokens = await login(client, sandbox.url, "alice")
        client.headers.update({**bearer(tokens), "x-operator-key": OPERATOR_KEY})
        yield client


async def test_every_text_field_refuses_refused_characters_and_blanks(api):
    """Over HTTP: the body is judged when it is decoded, before the route looks anything up."""
    checked = 0
    for operation_id, method, url, field, holder, example in CASES:
        values = [SPOOFED] + ([BLANK] if holder.get("minLength", 0) >= 1 else [])
        for value in values:
            body = with_value(example, field, value)
            answer = await api.request(method.upper(), url, json=body)
            problem = assert_problem(answer, 400, "validation_failed")
            named = {error["field"] for error in problem["errors"]}
            assert field in named, (operation_id, field, value, problem["errors"])
            checked += 1
    assert checked > 120


async def test_texts_are_stored_in_nfc_and_blanks_are_refused_by_name(api):
    created = await api.post("/v1/communities", json={"name": "Cafe\u0301 跑团", "tags": ["cafe\u0301"]})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Caf\u00e9 跑团" and created.json()["tags"] == ["caf\u00e9"]
    answer = await api.post("/v1/communities", json={"name": "\u200b\u200b", "description": "\ufeffhi"})
    problem = assert_problem(answer, 400, "validation_failed")
    assert sorted((e["field"], e["reason"]) for e in problem["errors"]) == [
        ("description", "character"),
        ("name", "blank"),
    ]
    assert problem["userMessage"] == "填写的内容有误，请检查标出的项目。"
    # Line breaks and tabs are text; an optional text may be empty.
    fine = await api.post("/v1/communities", json={"name": "晨跑", "description": "第一行\n\t第二行"})
    assert fine.status_code == 201, fine.text


async def test_a_nickname_refuses_a_bidi_override(api):
    for nickname in ("ali\u202ece", "\u2066alice", "alice\u200b"):
        answer = await api.put("/v1/me", json={"nickname": nickname})
        assert_problem(answer, 400, "validation_failed")


async def test_query_texts_refuse_the_same_characters(api):
    answer = await api.get("/v1/communities", params={"q": "跑\u202e团"})
    problem = assert_problem(answer, 400, "validation_failed")
    assert problem["errors"][0]["source"] == "query" and "U+202E" in problem["errors"][0]["message"]
