"""ASGI middleware: a request id on every response and log line, and one access log line per request."""

from __future__ import annotations

import logging
import re
import time
from random import getrandbits

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.core.text import refused_character
from service.errors import FieldError, Problem
from service.logs import request_id_var
from service.serving import InFlight

access_log = logging.getLogger("service.access")

# A caller-supplied id is kept only when it is short and harmless to log.
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")


# U+0000 in a JSON string: `\u0000` after an even number of backslashes (`\\u0000` is a backslash and text).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


async def refuse_nul(request: Request) -> None:
    """Litestar before_request hook: PostgreSQL text cannot hold U+0000, so a NUL in the query or the JSON body
    is refused here, before any work (it reached the database as a 500; found by the contract fuzzer). A query
    value is held to the text policy's refused characters too (service/text.py; bodies: service/request.py)."""
    bad = "U+0000"
    where = "path" if "\x00" in request.scope["path"] else "query" if b"%00" in request.scope["query_string"] else None
    if where is None and b"%" in request.scope["query_string"]:
        bad = next(filter(None, (refused_character(v) for _, v in request.query_params.multi_items())), None)
        where = "query" if bad else None
    # A multipart form (a photo, service/media) is binary and its one text field an enum: not read here, so the
    # form parser takes it as it arrives. Read whole, 3 MB were scanned and then parsed in one go (the event loop
    # stalled up to 12 ms on every upload), and a photo holding the bytes `\u0000` was refused. The test is
    # Litestar's own for parsing a form (Request.form), on the content type it parses once per request.
    with_body = where is None and request.method in ("POST", "PUT", "PATCH")
    if with_body and request.content_type[0] != RequestEncodingType.MULTI_PART:
        body = await request.body()
        # The substring test is a memchr scan; the regex, with its look-behind, cost 1 ms on a 13 KB batch.
        if b"\\u0000" in body and _NUL_ESCAPE.search(body):
            where, bad = "body", "U+0000"
    if where is not None:
        message = f"must not contain the character {bad}"
        raise Problem("validation_failed", message, errors=[FieldError(field=where, message=message, source=where)])


def refuse_repeated_query(request: Request) -> None:
    """No query parameter of the API takes a list, and Litestar keeps the last of a name given twice: `limit=abc&
    limit=5` was served and `limit=5&limit=abc` refused, `order=hot&order=latest` silently latest. A name given
    twice is refused (400 validation_failed naming it), whatever the values."""
    if b"&" not in request.scope["query_string"]:
        return
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        if name in seen:
            message = "must be given once"
            raise Problem(
                "validation_failed",
                f"the query parameter {name} is given twice",
                errors=[FieldError(field=name, message=message, source="query", reason="not_allowed")],
            )
        seen.add(name)


def _allow_every_method(message: Message, scope: Scope) -> None:
    """Litestar builds the automatic OPTIONS handler of a path with the first handler registered on it, so a
    controller with GET, PATCH and DELETE on one path answered `Allow: DELETE, OPTIONS` (its 405s were right)."""
    allow = scope["app"].state.allowed_methods.get(scope.get("path_template"))
    if allow:
        headers = [(k, v) for k, v in message["headers"] if k.lower() != b"allow"]
        message["headers"] = [*headers, (b"allow", allow)]


def request_id_middleware(app: ASGIApp, *, log_access: bool = True, in_flight: InFlight | None = None) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if in_flight is not None:
            in_flight.enter()
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        # 128 random bits as 32 hex digits, as uuid4().hex but without its system call and object: an id for
        # logs, not a secret (the random module reseeds in a forked worker).
        request_id = incoming.decode() if incoming and _SAFE_ID.match(incoming) else f"{getrandbits(128):032x}"
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                if scope["method"] == "OPTIONS":
                    _allow_every_method(message, scope)
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            if in_flight is not None:
                in_flight.leave()
            if log_access:
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            request_id_var.reset(token)

    return middleware
