"""What many operations of the OpenAPI document repeat, kept once in `components` and referred to (openapi.py):
problem responses, parameters, answer examples. Each pass is idempotent."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import msgspec

from service.errors import PROBLEM_MEDIA_TYPE

METHODS = ("get", "put", "post", "delete")
PROBLEM_BODY = "#/components/schemas/ProblemBody"


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in schema.get("paths", {}).values() for method in METHODS if (op := item.get(method))]


def _key(value: Any) -> bytes:
    # msgspec, not json: the app's own schema holds examples as msgspec.Raw (the file is their JSON)
    return msgspec.json.encode(value, order="sorted")


def _refs_to_shared(
    schema: dict[str, Any], section: str, candidates: list[tuple[dict[str, Any], str]], separator: str = ""
) -> list[str | None]:
    """For each candidate (an object, the name it would be kept under): the reference to its one copy in
    `components/<section>` when two or more candidates are alike, else None. Names taken get a number."""
    uses = Counter(_key(item) for item, _ in candidates)
    shared = schema.setdefault("components", {}).setdefault(section, {})
    names = {_key(item): name for name, item in shared.items()}
    refs: list[str | None] = []
    for item, base in candidates:
        key = _key(item)
        if uses[key] < 2:
            refs.append(None)
            continue
        if key not in names:
            name, n = base, 2
            while name in shared:
                name, n = f"{base}{separator}{n}", n + 1
            shared[name] = item
            names[key] = name
        refs.append(f"#/components/{section}/{names[key]}")
    return refs


def share_problem_responses(schema: dict[str, Any], operation: dict[str, Any]) -> None:
    """Each error response names the codes it may carry (an enum over the problem's `code`). A plain problem
    response lives once in `components/responses` (129 operations share a few dozen distinct sets) without the
    examples `Problems.responses` wrote, which only repeat the code table; a problem with fields of its own
    (duplicate_proposal) keeps its hand-written examples in place."""
    shared = schema.setdefault("components", {}).setdefault("responses", {})
    for status, response in operation.get("responses", {}).items():
        media = response.get("content", {}).get(PROBLEM_MEDIA_TYPE)
        if media is None or set(media.get("schema", {})) != {"$ref"}:
            continue  # not a problem, or done already
        codes = sorted({example["value"]["code"] for example in media.get("examples", {}).values()})
        if not codes:
            continue
        narrowed = {
            "allOf": [
                media["schema"],
                {"type": "object", "properties": {"code": {"type": "string", "enum": codes}}, "required": ["code"]},
            ]
        }
        if media["schema"] != {"$ref": PROBLEM_BODY}:
            media["schema"] = narrowed
            continue
        name = f"Problem{status}_" + ("_".join(codes) if len(codes) == 1 else _digest(codes))
        shared.setdefault(
            name, {"description": response["description"], "content": {PROBLEM_MEDIA_TYPE: {"schema": narrowed}}}
        )
        operation["responses"][status] = {"$ref": f"#/components/responses/{name}"}


def _digest(codes: list[str]) -> str:
    return hashlib.sha1(" ".join(codes).encode()).hexdigest()[:10]


def share_answer_examples(schema: dict[str, Any]) -> None:
    """An answer's example that several operations repeat (a page of posts: the feed, essence, search, ...) lives
    once in `components/examples`, named after its model; each operation refers to it, keeping its own summary
    (OpenAPI 3.1 lets a reference carry one)."""
    found = [
        (media, label, example)
        for operation in _operations(schema)
        for status, response in operation.get("responses", {}).items()
        if status.startswith("2")
        for media in [response.get("content", {}).get("application/json", {})]
        for label, example in media.get("examples", {}).items()
        if "value" in example
    ]
    candidates = [
        ({"value": example["value"]}, media.get("schema", {}).get("$ref", "#/answer").rsplit("/", 1)[1])
        for media, _, example in found
    ]
    for (media, label, example), ref in zip(found, _refs_to_shared(schema, "examples", candidates), strict=True):
        if ref is not None:
            summary = {"summary": example["summary"]} if "summary" in example else {}
            media["examples"][label] = {"$ref": ref, **summary}


def share_parameters(schema: dict[str, Any]) -> None:
    """A parameter declared alike by several operations (paths ids, paging, Idempotency-Key) lives once in
    `components/parameters`."""
    found = []
    for operation in _operations(schema):
        for index, parameter in enumerate(operation.get("parameters", [])):
            if parameter.get("schema", {}).get("type") == "string":
                # an id path parameter is a string of digits: its bounds belong to the integer the server reads
                parameter["schema"].pop("minimum", None)
                parameter["schema"].pop("maximum", None)
            if "$ref" not in parameter:
                found.append((operation, index, parameter))
    candidates = [(parameter, f"{parameter['in']}.{parameter['name']}") for _, _, parameter in found]
    for (operation, index, _), ref in zip(found, _refs_to_shared(schema, "parameters", candidates, "."), strict=True):
        if ref is not None:
            operation["parameters"][index] = {"$ref": ref}
