"""RFC 9457 problem+json errors with stable, machine-readable codes.

Every error the API can answer is a code in ``CODES``: the status it answers with and what it means, and
in ``action(code)`` what a client should do about it. Domains raise ``Problem(code)``; one set of handlers
turns every exception into problem+json. ``errors_markdown()`` is docs/errors.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from service.db.pool import caused_by_unavailable
from service.logs import request_id_var

log = logging.getLogger("service.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"

# code -> (HTTP status, meaning). The single source for docs and the OpenAPI error responses.
CODES: dict[str, tuple[int, str]] = {
    "bad_request": (400, "The request is malformed (e.g. its body is not valid JSON)."),
    "validation_failed": (400, "A field is missing or invalid; `errors` lists each field."),
    "unauthorized": (401, "No valid access token: log in again or refresh the token."),
    "token_expired": (401, "The access token expired: refresh it."),
    "forbidden": (403, "Your role does not allow this action."),
    "not_found": (404, "No such resource, or you may not see it."),
    "method_not_allowed": (405, "This route does not accept that method."),
    "conflict": (409, "The request conflicts with the current state."),
    "payload_too_large": (413, "The request body exceeds the size limit."),
    "unsupported_media_type": (415, "Send JSON with Content-Type: application/json."),
    "rate_limited": (429, "Too many requests: wait for Retry-After seconds."),
    "internal_error": (500, "An unexpected error; the request id identifies it in the logs."),
    "not_ready": (503, "The service is not ready: database unreachable or migrations pending."),
}
# The HTTP layer's own codes, which any route may answer; the domains register the rest.
HTTP_CODES = frozenset(CODES)


# What a client should do about a problem. Most codes follow from their status; the rest say so when registered.
ACTIONS: dict[str, str] = {
    "fix": "Fix the request: a client bug or invalid input (show `errors` beside their fields).",
    "show": "Show the user a message for the code; nothing to repeat as is.",
    "refresh": "Refresh the access token once (POST /v1/auth/refresh) and repeat; if that fails, log in again.",
    "login": "Log in again: call wx.login, then POST /v1/auth/login, and repeat.",
    "retry": "Retry later: after `Retry-After` seconds when given, with the same Idempotency-Key.",
    "wechat": "Answered to WeChat's own servers (notifications, message push); a mini program never sees it.",
}
_ACTION_BY_STATUS = {400: "fix", 401: "login", 413: "fix", 415: "fix", 429: "retry", 500: "retry", 503: "retry"}
_CLIENT_ACTIONS: dict[str, str] = {"token_expired": "refresh", "unauthorized": "refresh"}


def register(code: str, status: int, meaning: str, *, action: str | None = None) -> str:
    """Declare a domain's error code once, where the domain defines its errors (``action``: a key of ACTIONS,
    when the status alone does not say what a client should do)."""
    known = CODES.get(code)
    if known is not None and known != (status, meaning):
        raise ValueError(f"error code {code!r} is already registered differently")
    if action is not None:
        if action not in ACTIONS:
            raise ValueError(f"unknown client action {action!r}")
        _CLIENT_ACTIONS[code] = action
    CODES[code] = (status, meaning)
    return code


def action(code: str) -> str:
    """What a client should do about ``code``: a key of ACTIONS."""
    return _CLIENT_ACTIONS.get(code) or _ACTION_BY_STATUS.get(CODES[code][0], "show")


def errors_markdown() -> str:
    """docs/errors.md: every problem code, its status, meaning and the client's action."""
    lines = [
        "# Problem codes",
        "",
        "<!-- Generated from service/errors.py and the domains' register() calls by `make openapi`; "
        "a test fails when it drifts. -->",
        "",
        "Every error is RFC 9457 `application/problem+json` with a stable `code`, the `requestId` (also in the",
        "`X-Request-Id` header: quote it when reporting a problem) and, for `validation_failed`,",
        "`errors: [{field, message, source}]`. Each operation in the OpenAPI document lists the codes it may answer,",
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
    for code, (status, meaning) in sorted(CODES.items(), key=lambda item: (item[1][0], item[0])):
        cell = meaning.replace("|", "\\|")
        lines.append(f"| `{code}` | {status} | {cell} | `{action(code)}` |")
    return "\n".join(lines) + "\n"


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str
    source: str | None = None


class ProblemBody(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    code: str
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
    ) -> None:
        if code not in CODES:
            raise KeyError(f"unregistered error code {code!r}")
        self.code = code
        self.status = CODES[code][0]
        self.detail = detail
        self.errors = errors
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        super().__init__(f"{code}: {detail or CODES[code][1]}")


def problem_response(request: Request[Any, Any, Any] | None, problem: Problem) -> Response[bytes]:
    status, meaning = CODES[problem.code]
    body = ProblemBody(
        type=f"https://errors.community.example/{problem.code}",
        title=meaning,
        status=status,
        code=problem.code,
        detail=problem.detail,
        instance=request.url.path if request is not None else None,
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


def _validation_errors(exc: ValidationException) -> list[FieldError]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append(
                FieldError(
                    field=str(item.get("key") or "body"),
                    message=str(item.get("message", "invalid")),
                    source=_source_name(item.get("source")),
                )
            )
    return errors


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if isinstance(exc, Problem):
        return problem_response(request, exc)
    if isinstance(exc, ValidationException):
        errors = _validation_errors(exc)
        if errors:
            return problem_response(request, Problem("validation_failed", exc.detail, errors=errors))
        return problem_response(request, Problem("bad_request", exc.detail))
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


def responses(*codes: str) -> dict[int, ResponseSpec]:
    """OpenAPI error responses for a route: each status lists the codes it may carry."""
    by_status: dict[int, list[str]] = {}
    # Any route answers validation_failed for bad input and not_found for a path that names nothing.
    for code in dict.fromkeys(("validation_failed", "not_found", *codes)):
        by_status.setdefault(CODES[code][0], []).append(code)
    specs = {}
    for status, status_codes in sorted(by_status.items()):
        lines = "\n".join(f"- `{c}`: {CODES[c][1]}" for c in status_codes)
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
                        "title": CODES[c][1],
                        "status": status,
                        "code": c,
                    },
                )
                for c in status_codes
            ],
        )
    return specs
