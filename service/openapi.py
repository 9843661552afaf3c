"""The OpenAPI document front-end developers work from: completed and exported (served by openapi_pages.py).

Litestar builds the document from the routes. ``complete`` then fills in what it cannot know: an example
request and answer for every operation that declares none (built from the models' field examples, so they
validate against the models), the problem codes each error response may carry (typed enums, so generated
TypeScript can switch on them), and every registered code on ``ProblemBody``; and it states an optional field as
one schema (``fold_type_branches``). The exported files and the served pages pass through the same function, so
what the UI shows is what ``make openapi`` commits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import msgspec
import yaml
from litestar import Litestar, Response
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.routes import HTTPRoute
from litestar.serialization import encode_json

from service.errors import Problems
from service.openapi_sharing import METHODS, share_answer_examples, share_parameters, share_problem_responses

_EXAMPLE_AT = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
# Values for fields that carry no example in their model, by field name; anything else gets a placeholder.
_BY_NAME: dict[str, Any] = {
    "nickname": "小林",
    "name": "城市跑团",
    "title": "周六晨跑",
    "text": "今天跑了 10 公里，配速 5:30。",
    "reason": "活动取消",
    "message": "我也喜欢跑步",
    "description": "每周六早上一起跑 10 公里",
    "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl",
    "refresh_token": "kq7wYc0bTz3H9vLx2mNf5RdA8sPjUe4G",
    "expires_in": 900,
    "refresh_expires_in": 2592000,
    "phone_number": "13800138000",
    "time_zone": "Asia/Shanghai",
}


# --- handlers and their types ------------------------------------------------------------------------------


def handlers(app: Litestar) -> dict[str, HTTPRouteHandler]:
    """Route handlers in the document, by operationId."""
    found: dict[str, HTTPRouteHandler] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler, _ in route.route_handler_map.values():
                if isinstance(handler.operation_id, str) and handler.resolve_include_in_schema():
                    found[handler.operation_id] = handler
    return found


def body_type(handler: HTTPRouteHandler) -> Any | None:
    """The request body's model, without ``| None``."""
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return None
    inner = [t.annotation for t in data.inner_types if t.annotation is not type(None)] if data.is_optional else []
    return inner[0] if inner else data.annotation


def answer_type(handler: HTTPRouteHandler, status: int) -> Any | None:
    """The model of a success answer: the status's declared container, else the return type (``Response[X]``: X)."""
    spec = (handler.responses or {}).get(status)
    if spec is not None and spec.data_container is not None:
        return spec.data_container
    returned = handler.parsed_fn_signature.return_type
    if returned.is_subclass_of(Response):
        return returned.inner_types[0].annotation if returned.inner_types else None
    return None if returned.annotation is type(None) else returned.annotation


# --- examples ----------------------------------------------------------------------------------------------


def example(summary: str, value: msgspec.Struct) -> list[Example]:
    """An example of a model instance, for ``ResponseSpec(examples=...)`` and ``Body(examples=...)``."""
    # Raw JSON: Litestar drops None from the dicts of the document, and a null field is part of the shape.
    return [Example(summary=summary, value=msgspec.Raw(msgspec.json.encode(value)))]


def answer(status: int, value: msgspec.Struct, summary: str, description: str) -> dict[int, ResponseSpec]:
    """The success response of a route, with an example."""
    return {
        status: ResponseSpec(
            generate_examples=False,
            data_container=type(value),
            description=description,
            examples=example(summary, value),
        )
    }


def documenter(problems: Problems) -> Callable[..., dict[str, Any]]:
    """``doc = documenter(PROBLEMS)``; then ``@get(path, **doc("listThings", "Summary", *codes))`` gives a route its
    operation id, summary and problem responses (codes checked against ``problems``). Its description is the
    handler's docstring; ``ok`` adds the success response with its example (``answer``)."""

    def doc(operation_id: str, summary: str, *codes: str, ok: dict[int, ResponseSpec] | None = None) -> dict[str, Any]:
        return {
            "operation_id": operation_id,
            "summary": summary,
            "responses": {**problems.responses(*codes), **(ok or {})},
        }

    return doc


def sample(model: Any) -> Any:
    """A JSON example of ``model`` (wire names): its fields' declared examples, else plain placeholders.

    Request models get their required fields and those with an example; answers get every field.
    """
    return _sample(msgspec.inspect.type_info(model), "", depth=0)


def _sample(info: msgspec.inspect.Type, name: str, depth: int) -> Any:
    mi = msgspec.inspect
    if isinstance(info, mi.Metadata):
        examples = (info.extra_json_schema or {}).get("examples")
        return examples[0] if examples else _sample(info.type, name, depth)
    if isinstance(info, mi.StructType):
        out = {}
        for field in info.fields:
            if depth > 3 and not field.required:
                continue  # recursive models (replies of replies): stop a few levels down
            out[field.encode_name] = _sample(field.type, field.name, depth + 1)
        return out
    if isinstance(info, mi.UnionType):
        present = [t for t in info.types if not isinstance(t, mi.NoneType)]
        return _sample(present[0], name, depth) if present and depth <= 4 else None
    if isinstance(info, mi.LiteralType):
        return info.values[0]
    if isinstance(info, mi.EnumType):
        return next(iter(info.cls)).value
    if isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        if name in _BY_NAME:
            return _BY_NAME[name]
        item = name.removesuffix("s")  # community_ids: each a community_id
        return [_sample(info.item_type, item, depth + 1)] if depth <= 4 else []
    if isinstance(info, mi.DictType):
        return {}
    if isinstance(info, mi.BoolType):
        return False
    if isinstance(info, mi.IntType):
        if name in _BY_NAME:
            return _BY_NAME[name]
        return max(1, info.ge or 0, (info.gt or 0) + 1)
    if isinstance(info, mi.FloatType):
        return 1.5
    if isinstance(info, mi.DateTimeType):
        return _EXAMPLE_AT.isoformat().replace("+00:00", "Z")
    if isinstance(info, mi.DateType):
        return date(2025, 3, 1).isoformat()
    if isinstance(info, mi.TimeType):
        return time(8, 30).isoformat()
    if isinstance(info, mi.StrType):
        if name in _BY_NAME:
            return _BY_NAME[name]
        if name == "id" or name.endswith("_id"):
            return "42"
        return placeholder(name)
    return None


def placeholder(name: str) -> str:
    """The sample of a string field without an example: its own name. A test refuses it in the document, so a
    model that lacks an example shows up instead of showing `"kind": "kind"` to front-end developers."""
    return name.replace("_", " ") or "text"


# --- completing the document -------------------------------------------------------------------------------


def complete(app: Litestar, schema: dict[str, Any]) -> dict[str, Any]:
    """Fill in examples and problem codes, share what operations repeat (in place, idempotent); returns ``schema``."""
    by_id = handlers(app)
    for item in schema.get("paths", {}).values():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if "description" in operation:
                operation["description"] = _unwrap(operation["description"])
            handler = by_id.get(operation.get("operationId", ""))
            if handler is not None:
                _complete_examples(handler, operation)
                if messages := handler.opt.get("socket_messages"):
                    _document_socket(schema, operation, *messages)
            share_problem_responses(schema, operation)
    share_parameters(schema)
    share_answer_examples(schema)
    fold_type_branches(schema)
    problem = schema.get("components", {}).get("schemas", {}).get("ProblemBody")
    if problem is not None:
        problem["properties"]["code"] = {
            "type": "string",
            "enum": sorted(app.state.problems),
            "description": "Stable machine-readable code; docs/errors.md says what each means and what to do",
        }
        problem["examples"] = [_problem_example(app.state.problems, "community_full")]
    return schema


def fold_type_branches(node: Any) -> None:
    """Each `oneOf` of one plain type (a field that may be left out) or of one plain type and null (an optional
    field or parameter) as one schema, `{"type": "string"}` or `{"type": ["string", "null"]}`: the same values, in
    the form JSON Schema tools read best. The contract fuzzer's coverage phase reads a pattern and length bounds
    set beside a `oneOf` apart and drew each over-long text by trial and error (about 2 s for 61 characters); on
    one schema it fits the pattern to the length at once."""
    if isinstance(node, list):
        for item in node:
            fold_type_branches(item)
        return
    if not isinstance(node, dict):
        return
    for value in node.values():
        fold_type_branches(value)
    branches = node.get("oneOf")
    if not isinstance(branches, list) or not 1 <= len(branches) <= 2:
        return
    typed = [branch for branch in branches if branch != {"type": "null"}]
    if len(typed) != 1 or not isinstance(typed[0].get("type"), str):
        return
    branch = typed[0]
    nullable = len(branches) == 2
    # Null would have to join an enum or const; a key on both sides would need merging: left as they are.
    if (nullable and ("enum" in branch or "const" in branch)) or any(key in node for key in branch):
        return
    del node["oneOf"]
    node.update(branch)
    if nullable:
        node["type"] = [branch["type"], "null"]


def _document_socket(schema: dict[str, Any], operation: dict[str, Any], received: tuple, sent: tuple) -> None:
    """A WebSocket's messages, which litestar does not document: the 101 answer holds what the server sends,
    `x-client-messages` what the client may send; each message is a component with its example."""
    _, found = msgspec.json.schema_components([*received, *sent], ref_template="#/components/schemas/{name}")
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in {*received, *sent}:
        found[model.__name__]["examples"] = [_message(model)]
    for name, component in found.items():
        schemas.setdefault(name, component)

    def one_of(models: tuple, description: str) -> dict[str, Any]:
        refs = [{"$ref": f"#/components/schemas/{model.__name__}"} for model in models]
        examples = {
            model.__name__: {"summary": " ".join((model.__doc__ or "").split()), "value": _message(model)}
            for model in models
        }
        return {
            "description": description,
            "content": {
                "application/json": {
                    "schema": {"oneOf": refs, "discriminator": {"propertyName": "type"}},
                    "examples": examples,
                }
            },
        }

    responses = operation["responses"]
    responses.pop("200", None)  # the handler's plain-HTTP side never succeeds
    responses["101"] = one_of(received, "Switching Protocols: the socket is open; the server sends these JSON texts")
    operation["x-client-messages"] = one_of(sent, "What the client may send, as JSON texts")


def _message(model: Any) -> dict[str, Any]:
    """A message's example: its tag, then its fields."""
    info = msgspec.inspect.type_info(model)
    return {info.tag_field: info.tag, **sample(model)}


def _unwrap(text: str) -> str:
    """A docstring's wrapped lines as one paragraph; blank lines and list items keep their breaks."""
    return re.sub(r"(?<=\S)\n(?=[^\n\s-])", " ", text)


def _problem_example(problems: Problems, code: str) -> dict[str, Any]:
    status, meaning = problems[code]
    return {
        "type": f"https://errors.community.example/{code}",
        "title": meaning,
        "status": status,
        "code": code,
        "instance": "/v1/communities/42/join",
        "requestId": "6f1c2a9e4b7d4e0f",
    }


def _has_examples(media: dict[str, Any]) -> bool:
    return bool(media.get("examples") or media.get("example") or media.get("schema", {}).get("examples"))


def _complete_examples(handler: HTTPRouteHandler, operation: dict[str, Any]) -> None:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and not _has_examples(body) and (model := body_type(handler)) is not None:
        body["examples"] = {"request": {"summary": "a request", "value": sample(model)}}
    for status, response in operation.get("responses", {}).items():
        media = response.get("content", {}).get("application/json")
        if not status.startswith("2") or media is None or _has_examples(media):
            continue
        if (model := answer_type(handler, int(status))) is not None:
            media["examples"] = {
                "answer": {"summary": response.get("description", "the answer"), "value": sample(model)}
            }


def document(app: Litestar) -> dict[str, Any]:
    """The completed OpenAPI document of ``app`` as plain JSON data."""
    return complete(app, msgspec.json.decode(encode_json(app.openapi_schema.to_schema())))


def document_json(app: Litestar) -> str:
    """Stable, diffable JSON (sorted keys, one-space indent: a fifth smaller than two, as diffable)."""
    return json.dumps(document(app), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def document_yaml(app: Litestar) -> str:
    return yaml.safe_dump(document(app), sort_keys=True, allow_unicode=True, width=120)
