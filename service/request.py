"""The request class of the app: a JSON body is decoded once, strictly, straight into the handler's `data` type.

Litestar decodes a body as untyped JSON and then converts it with msgspec's lax rules (strict=False), which
took "50" for 50 and "true" for true: the spec types them as numbers and booleans, and so does the decoder
now (199.0 is still an integer, as JSON Schema has it). The untyped decoding also recursed into any depth
(1,000 levels: RecursionError, a 500): a body nested deeper than MAX_JSON_DEPTH is refused before it is
decoded. Every text it holds then meets the text policy (service/core/text.py).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.serialization import decode_json
from litestar.types import Empty

from service.core.text import may_break_policy, text_errors
from service.errors import FieldError, Problem
from service.validation import MAX_JSON_DEPTH, integral_numbers, too_deep

_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if self._json is Empty:
            body = await self.body()
            handler = self.route_handler
            target = _body_type(handler)
            # A body type may know a faster way to what the checks and decoding below give (EventBatch); a body
            # the text policy may refuse, or one that way declines, takes them.
            fast = getattr(target, "decode_fast", None)
            if fast is not None and not may_break_policy(body) and (value := fast(body)) is not None:
                self._json = value
                return value
            if too_deep(body):
                raise Problem("json_too_deep", f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
            detail = f"Validation failed for {self.method} {self.url.path}"  # what the contract test looks for
            try:
                self._json = decode_json(
                    integral_numbers(body or b"null"),
                    target_type=target,
                    type_decoders=handler.resolve_type_decoders(),
                    strict=True,
                )
            except SerializationException as exc:
                if not isinstance(exc.__cause__, msgspec.ValidationError):
                    raise  # not JSON: Litestar's 400 bad_request
                # Shaped like Litestar's own body errors: the error handler lists every bad field.
                message = str(exc.__cause__)
                at = _AT.search(message)
                item = {"message": message, "key": (at["path"] if at else "") or "body", "source": "body"}
                raise ValidationException(detail, extra=[item]) from None
            if may_break_policy(body) and (errors := text_errors(self._json)):
                fields = [FieldError(e.path, e.message, "body", e.reason) for e in errors]
                raise Problem("validation_failed", detail, errors=fields)
        return self._json


def _body_type(handler: HTTPRouteHandler) -> Any:
    # Litestar keeps the parsed signature on the handler. A cache keyed by handler here kept every app ever built
    # alive (its handlers point back to it): one per test, 30 apps and 2 M objects in a worker of the suite.
    data = handler.parsed_fn_signature.parameters.get("data")
    return Any if data is None else data.annotation
