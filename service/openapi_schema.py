"""The OpenAPI schema of a msgspec Struct says everything msgspec enforces when it decodes one.

Litestar's Struct plugin leaves out what a client needs to build a request the API accepts: that unknown fields
are refused (`forbid_unknown_fields`), constraints equal to zero (`ge=0` is read as "no minimum") and the
constraints of list items (`list[Annotated[str, Meta(min_length=1)]]`). This plugin adds them from msgspec's
own description of the type, so the spec and the decoder cannot disagree.
"""

from __future__ import annotations

import msgspec
from litestar import Litestar
from litestar._openapi.schema_generation import SchemaCreator
from litestar._openapi.schema_generation.plugins import StructSchemaPlugin
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

from service.core.text import TEXT_PATTERN, VISIBLE_TEXT_PATTERN

_NUMBER = {"ge": "minimum", "le": "maximum", "gt": "exclusive_minimum", "lt": "exclusive_maximum"}
_NUMBER["multiple_of"] = "multiple_of"
_STRING = {"min_length": "min_length", "max_length": "max_length", "pattern": "pattern"}
_ARRAY = {"min_length": "min_items", "max_length": "max_items"}


class StrictStructSchemaPlugin(StructSchemaPlugin):
    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if info.forbid_unknown_fields:
            schema.additional_properties = False
        # The texts a client sends get the text policy's pattern: prefer_alias is Litestar's mark of a request
        # body's schema; a request model shared with an answer (RewardRules) may be drawn first for the answer,
        # but only request models refuse unknown fields.
        request = schema_creator.prefer_alias or info.forbid_unknown_fields
        for field in info.fields:
            constrain((schema.properties or {}).get(field.encode_name), field.type, request)
        return schema


def constrain(schema: Schema | Reference | None, kind: msgspec.inspect.Type, request: bool = False) -> None:
    """Add to ``schema`` the constraints of ``kind`` it lacks. Constraints may sit beside a `oneOf` (an optional
    field): JSON Schema applies number, string and array keywords only to values of that type."""
    if not isinstance(schema, Schema):
        return
    if isinstance(kind, msgspec.inspect.Metadata):
        kind = kind.type
    if isinstance(kind, msgspec.inspect.UnionType):
        others = [t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(others) == 1:
            constrain(schema, others[0], request)
        return
    if isinstance(kind, msgspec.inspect.IntType | msgspec.inspect.FloatType):
        _copy(kind, schema, _NUMBER)
    elif isinstance(kind, msgspec.inspect.StrType):
        _copy(kind, schema, _STRING)
        if request and schema.pattern is None:  # the text policy the decoder applies (service/core/text.py)
            schema.pattern = VISIBLE_TEXT_PATTERN if (kind.min_length or 0) >= 1 else TEXT_PATTERN
    elif isinstance(kind, msgspec.inspect.ListType | msgspec.inspect.SetType | msgspec.inspect.FrozenSetType):
        _copy(kind, schema, _ARRAY)
        constrain(_items(schema), kind.item_type, request)


def _copy(kind: msgspec.inspect.Type, schema: Schema, names: dict[str, str]) -> None:
    for source, target in names.items():
        value = getattr(kind, source)
        if value is not None and getattr(schema, target) is None:
            setattr(schema, target, value)


def _items(schema: Schema) -> Schema | Reference | None:
    if schema.items is not None:
        return schema.items
    arrays = [s for s in schema.one_of or [] if isinstance(s, Schema) and s.items is not None]
    return arrays[0].items if len(arrays) == 1 else None


def document_body_errors(app: Litestar) -> None:
    """Every handler that decodes a body may answer 400 `bad_request` (not JSON), 400 `json_too_deep` and 413
    `payload_too_large` (MAX_BODY_BYTES): add them to the codes it lists. Handlers that read the raw body (WeChat's
    notifications) list their codes themselves."""
    problems = app.state.problems
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if "data" not in handler.parsed_fn_signature.parameters:
                continue
            listed = handler.responses or {}
            codes = [e.summary for status, spec in listed.items() if status >= 400 for e in spec.examples or []]
            body_codes = ("bad_request", "json_too_deep", "payload_too_large")
            handler.responses = {**listed, **problems.responses(*codes, *body_codes)}
