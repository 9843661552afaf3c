"""A fast lane for the API's most frequent read: a community's feed, answered before Litestar routes it.

Litestar's routing, hooks, parameter parsing and response objects cost about 50 µs of the API's CPU per request,
more than a cached feed page's own work (benchmarks/RESULTS.md). The lane recognises the feed's URL and the query
forms the mini program sends, checks the bearer token with the guard's own function and builds the answer with the
route's own function (reading.feed_of). A refusal or failure there (a token refused, not a member, a bad
cursor, the database down) is answered by the app's own exception handler, as Litestar would answer it, without
reading the page a second time. Anything the lane does not fully recognise (another parameter, an encoded
character, a HEAD, a Host header Litestar would refuse) goes on to Litestar. So the route's spec, validation and
errors stay in one place, and an answer is the same whichever way it came (tests/feed/test_lane.py).
"""

from __future__ import annotations

import re

from litestar import Litestar
from litestar._asgi.utils import is_valid_host  # the router's own check, before it routes a request
from litestar.types import ASGIApp, Receive, Scope, Send

from service.core.guard import bearer_caller
from service.errors import handle_exception
from service.feed import reading
from service.feed.models import FEED_LIMIT_DEFAULT, FEED_LIMIT_MAX, FEED_ORDER_DEFAULT

_PATH = re.compile(r"/v1/communities/([1-9][0-9]{0,14})/feed")  # 15 digits at most: below 2^53, as PathId
# Each parameter's values the lane takes as they are; another value, or another spelling of one (`limit=020`, a
# percent-encoded character), goes to Litestar. Cursors are URL-safe base64 (core/paging.py).
_VALUES = {
    b"order": re.compile(rb"latest|hot"),
    b"limit": re.compile(rb"[1-9][0-9]?"),
    b"cursor": re.compile(rb"[A-Za-z0-9_-]{1,200}"),
    b"since": re.compile(rb"[1-9][0-9]{0,15}"),
}


def feed_query(query_string: bytes) -> dict[str, str] | None:
    """The feed's parameters when the query is one the lane takes as it is, else None."""
    found: dict[str, str] = {}
    for part in query_string.split(b"&") if query_string else ():
        name, _, value = part.partition(b"=")
        pattern = _VALUES.get(name)
        if pattern is None or not pattern.fullmatch(value) or name.decode() in found:
            return None
        found[name.decode()] = value.decode()
    if int(found.get("limit", FEED_LIMIT_DEFAULT)) > FEED_LIMIT_MAX:
        return None
    return found


def _valid_host(scope: Scope) -> bool:
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    return host is None or is_valid_host(host)


def feed_lane(app: ASGIApp, litestar: Litestar) -> ASGIApp:
    """Wrap Litestar's ASGI handler `app`: the lane answers the feed reads it can, `app` the rest."""
    state = litestar.state

    async def lane(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and (path := _PATH.fullmatch(scope["path"]))
            and (query := feed_query(scope["query_string"])) is not None
            and _valid_host(scope)
        ):
            try:
                caller = bearer_caller(scope, state)
                page = await reading.feed_of(
                    state,
                    int(path[1]),
                    caller.id,
                    query.get("order", FEED_ORDER_DEFAULT),  # type: ignore[arg-type]  # matched: latest or hot
                    int(query.get("limit", FEED_LIMIT_DEFAULT)),
                    query.get("cursor"),
                    query.get("since"),
                )
            except Exception as exc:  # noqa: BLE001  # answered as Litestar answers it: by the app's handler
                request = litestar.request_class(scope=scope, receive=receive, send=send)
                await handle_exception(request, exc).to_asgi_response(app=None, request=request)(scope, receive, send)
                return
            body = page.content
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": page.status_code, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return lane
