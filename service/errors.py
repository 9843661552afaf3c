"""RFC 9457 problem+json errors with stable, machine-readable codes.

Every error the API can answer is a declared `Code`: the status it answers with, what it means and what a
client should do about it. Each layer declares its codes in a `Problems` table: the HTTP layer's here
(`HTTP`), WeChat's in service/wechat/errors.py, the core's in service/core/problems.py and each domain's in
its problems.py, which extends the core's, so a domain's routes list only codes it may raise. The app's table is
the union of its domains' tables (`app.state.problems`); docs/errors.md is its `markdown()`. Domains raise
`Problem(code)`; one set of handlers turns every exception into problem+json.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from litestar.utils.scope.state import ScopeState

from service.db.pool import caused_by_unavailable
from service.logs import request_id_var
from service.messages import prefers_english, user_message
from service.validation import explain, field_errors

log = logging.getLogger("service.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"

# What a client should do about a problem. Most codes follow from their status; the rest say so when declared.
ACTIONS: dict[str, str] = {
    "fix": "Fix the request: a client bug or invalid input (show `errors` beside their fields).",
    "show": "Show the user a message for the code; nothing to repeat as is.",
    "refresh": "Refresh the access token once (POST /v1/auth/refresh) and repeat; if that fails, log in again.",
    "login": "Log in again: call wx.login, then POST /v1/auth/login, and repeat.",
    "retry": "Retry later: after `Retry-After` seconds when given, with the same Idempotency-Key.",
    "wechat": "Answered to WeChat's own servers (notifications, message push); a mini program never sees it.",
}
_ACTION_BY_STATUS = {400: "fix", 401: "login", 413: "fix", 415: "fix", 429: "retry", 500: "retry", 503: "retry"}


@dataclass(frozen=True)
class Code:
    """One problem code: its HTTP status, what it means, and (when the status does not say) the client's action."""

    code: str
    status: int
    meaning: str
    action: str | None = None

    def __post_init__(self) -> None:
        if self.action is not None and self.action not in ACTIONS:
            raise ValueError(f"unknown client action {self.action!r} for {self.code!r}")

    @property
    def client_action(self) -> str:
        return self.action or _ACTION_BY_STATUS.get(self.status, "show")


class Problems(Mapping[str, tuple[int, str]]):
    """A table of declared codes: code -> (status, meaning). Immutable; `extend` and `merge` make new tables."""

    def __init__(self, codes: Mapping[str, Code]) -> None:
        self._codes = dict(codes)

    def extend(self, *codes: Code) -> Problems:
        return Problems._joined([self._codes, {c.code: c for c in codes}])

    @staticmethod
    def merge(*tables: Problems) -> Problems:
        return Problems._joined([table._codes for table in tables])

    @staticmethod
    def _joined(parts: list[Mapping[str, Code]]) -> Problems:
        joined: dict[str, Code] = {}
        for part in parts:
            for name, code in part.items():
                if joined.get(name, code) != code:
                    raise ValueError(f"problem code {name!r} is declared twice, differently")
                joined[name] = code
        return Problems(joined)

    def __getitem__(self, code: str) -> tuple[int, str]:
        declared = self._codes[code]
        return declared.status, declared.meaning

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)

    def action(self, code: str) -> str:
        """What a client should do about ``code``: a key of ACTIONS."""
        return self._codes[code].client_action

    def responses(self, *codes: str) -> dict[int, ResponseSpec]:
        """OpenAPI error responses for a route: each status lists the codes it may carry. An undeclared code
        fails here, when the route is defined."""
        by_status: dict[int, list[str]] = {}
        # Any route answers validation_failed for bad input and not_found for a path that names nothing.
        for code in dict.fromkeys(("validation_failed", "not_found", *codes)):
            if code not in self._codes:
                raise KeyError(f"problem code {code!r} is not declared in this table")
            by_status.setdefault(self[code][0], []).append(code)
        specs = {}
        for status, status_codes in sorted(by_status.items()):
            lines = "\n".join(f"- `{c}`: {self[c][1]}" for c in status_codes)
            specs[status] = ResponseSpec(
                data_container=ProblemBody,
                generate_examples=False,
                description=lines,
                media_type=PROBLEM_MEDIA_TYPE,
                examples=[
                    Example(
                        summary=c,
                        value={
                            "type": f"https://errors.community.example/{c}",
                            "title": self[c][1],
                            "status": status,
                            "code": c,
                        },
                    )
                    for c in status_codes
                ],
            )
        return specs

    def markdown(self) -> str:
        """docs/errors.md: every problem code, its status, meaning and the client's action."""
        lines = [
            "# Problem codes",
            "",
            "<!-- Generated from the problem tables (service/errors.py, service/wechat/errors.py, "
            "service/core/problems.py "
            "and each domain's problems.py) by `make openapi`; a test fails when it drifts. -->",
            "",
            "Every error is RFC 9457 `application/problem+json` with a stable `code`, the `requestId` (also in the",
            "`X-Request-Id` header: quote it when reporting a problem) and, for `validation_failed`,",
            "`errors: [{field, message, source}]`. Each operation in the OpenAPI document lists the codes it may "
            "answer,",
            "and the generated TypeScript types (`openapi/types.ts`) type each error response's `code` accordingly.",
            "",
            "What to do:",
            "",
            "| action | the client should |",
            "|---|---|",
            *(f"| `{name}` | {text} |" for name, text in ACTIONS.items()),
            "",
            "| code | HTTP | meaning | action |",
            "|---|---|---|---|",
        ]
        for code, (status, meaning) in sorted(self.items(), key=lambda item: (item[1][0], item[0])):
            cell = meaning.replace("|", "\\|")
            lines.append(f"| `{code}` | {status} | {cell} | `{self.action(code)}` |")
        return "\n".join(lines) + "\n"


# The HTTP layer's own codes, which any route may answer; the other layers and the domains extend them.
HTTP = Problems(
    {
        c.code: c
        for c in (
            Code("bad_request", 400, "The request is malformed (e.g. its body is not valid JSON)."),
            Code("validation_failed", 400, "A field is missing or invalid; `errors` lists each field."),
            Code("json_too_deep", 400, "The JSON body nests arrays and objects more than 32 levels deep."),
            Code("unauthorized", 401, "No valid access token: log in again or refresh the token.", action="refresh"),
            Code("token_expired", 401, "The access token expired: refresh it.", action="refresh"),
            Code("forbidden", 403, "Your role does not allow this action."),
            Code("not_found", 404, "No such resource, or you may not see it."),
            Code("method_not_allowed", 405, "This route does not accept that method."),
            Code("conflict", 409, "The request conflicts with the current state."),
            Code("payload_too_large", 413, "The request body exceeds the size limit."),
            Code("unsupported_media_type", 415, "Send JSON with Content-Type: application/json."),
            Code("rate_limited", 429, "Too many requests: wait for Retry-After seconds."),
            Code("internal_error", 500, "An unexpected error; the request id identifies it in the logs."),
            Code(
                "not_ready",
                503,
                "The service is not ready: database or photo storage unreachable, or migrations pending. Retry after "
                "Retry-After.",
            ),
        )
    }
)
HTTP_CODES = frozenset(HTTP)


class FieldError(msgspec.Struct, frozen=True):
    """One bad input: its path as the client sent it (camelCase, dotted: `items[0].name`), a short message,
    where it was (body, query, path, header) and a stable reason (required, type, too_short, too_long,
    too_small, too_large, pattern, not_allowed, unknown_field, invalid)."""

    field: str
    message: str
    source: str | None = None
    reason: str | None = None


class ProblemBody(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    code: str
    # For people: in Chinese unless Accept-Language prefers English. Codes and `detail` are for programs.
    user_message: str
    # What the client should do: fix, show, refresh, login, retry or wechat (docs/errors.md).
    action: str
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None
    retry_after: int | None = None


class Problem(Exception):
    """A domain error with a registered code; becomes problem+json."""

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        retry_after: int | None = None,
        headers: Mapping[str, str] | None = None,
        label: int | None = None,
    ) -> None:
        self.code = code
        self.label = label  # WeChat's content-check label: the member's message says what it found
        self.detail = detail
        self.errors = errors
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        super().__init__(f"{code}: {detail}" if detail else code)


def problem_response(request: Request[Any, Any, Any], problem: Problem) -> Response[bytes]:
    """The problem+json answer, with the status and meaning the app's table declares for the code."""
    table: Problems = request.app.state.problems
    if problem.code not in table:
        log.error("undeclared problem code", extra={"code": problem.code, "path": request.url.path})
        problem = Problem("internal_error")
    status, meaning = table[problem.code]
    body = ProblemBody(
        type=f"https://errors.community.example/{problem.code}",
        title=meaning,
        status=status,
        code=problem.code,
        user_message=user_message(problem.code, prefers_english(request.headers.get("accept-language")), problem.label),
        action=table.action(problem.code),
        detail=problem.detail,
        instance=request.url.path,
        request_id=request_id_var.get(),
        errors=problem.errors,
        retry_after=problem.retry_after,
    )
    headers = dict(problem.headers)
    if problem.retry_after is not None:
        headers.setdefault("Retry-After", str(problem.retry_after))
    return Response(msgspec.json.encode(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "not_ready",
}


def _source_name(source: object) -> str | None:
    return None if source is None else str(getattr(source, "value", source))


# Litestar names a missing required parameter only in its message.
_MISSING = re.compile(r"^Missing required (query|header|cookie|path) parameter '([^']+)'")
# ... and a missing form field (multipart) only in the message of the whole body's error.
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


def _validation_errors(request: Request[Any, Any, Any], exc: ValidationException) -> list[FieldError]:
    names = _query_names(request)
    if missing := _MISSING.match(str(exc.detail)):
        source, name = missing.groups()
        if source == "query":  # Litestar names the first one missing: name them all
            given = request.query_params
            absent = [n for n, required in names.values() if required and n not in given] or [name]
            return [FieldError(field=n, message="is required", source="query", reason="required") for n in absent]
        return [FieldError(field=name, message="is required", source=source, reason="required")]
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            reason, message = explain(str(item.get("message", "invalid")))
            source = _source_name(item.get("source"))
            field = str(item.get("key") or "body")
            if field == "data" and (missing_field := _MISSING_FIELD.search(str(item.get("message", "")))):
                field = missing_field.group(1)
            if field in names:  # as the client sent it: `from`, not the handler's `start`
                field, source = names[field][0], "query"
            errors.append(FieldError(field=field, message=message, source=source, reason=reason))
    return errors


def _query_names(request: Request[Any, Any, Any]) -> dict[str, tuple[str, bool]]:
    """The handler's declared query parameters: its name -> (the name on the wire, required)."""
    return {
        name: (field.kwarg_definition.name or name, not (field.has_default or field.is_optional))
        for name, field in request.route_handler.parsed_fn_signature.parameters.items()
        if isinstance(field.kwarg_definition, QueryParameter)
    }


def _every_body_error(request: Request[Any, Any, Any], errors: list[FieldError]) -> list[FieldError]:
    """The decoder named the first bad body field: check the body again for all of them."""
    if not any(error.source == "body" for error in errors):
        return errors
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    body = ScopeState.from_scope(request.scope).body
    if data is None or not isinstance(body, bytes):
        return errors
    try:
        found = field_errors(data.annotation, msgspec.json.decode(body))
    except (msgspec.DecodeError, RecursionError):
        return errors
    others = [error for error in errors if error.source != "body"]
    return others + [FieldError(e.path or "body", e.message, "body", e.reason) for e in found] if found else errors


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if isinstance(exc, Problem):
        return problem_response(request, exc)
    if isinstance(exc, ValidationException):
        # Always validation_failed, the code every operation lists (a missing query parameter answered
        # bad_request, which the spec of its operation did not list: found by schemathesis).
        errors = _every_body_error(request, _validation_errors(request, exc))
        errors = errors or [FieldError(field="request", message="is not valid", reason="invalid")]
        return problem_response(request, Problem("validation_failed", exc.detail, errors=errors))
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        code = _STATUS_CODES.get(exc.status_code, "bad_request")
        return problem_response(request, Problem(code, exc.detail, headers=exc.headers))
    if isinstance(exc, HTTPException) and exc.status_code == 503:
        return problem_response(request, Problem("not_ready", exc.detail, headers=exc.headers))
    if caused_by_unavailable(exc):
        # PostgreSQL restarting or failing over: the client retries after Retry-After, the pool reconnects.
        log.warning("database unavailable", extra={"path": request.url.path, "error": repr(exc)})
        return problem_response(request, Problem("not_ready", "the database is unavailable: retry", retry_after=2))
    log.exception("unhandled error", extra={"path": request.url.path})
    return problem_response(request, Problem("internal_error"))
