"""GET /v1/live: the WebSocket (wx.connectSocket), and the same path over plain HTTP, where the spec documents it.

The token is checked before the upgrade: a missing, invalid or expired one is refused with 401 problem+json
(the handshake fails; servers without the ASGI denial-response extension answer 403). While open, the socket
closes with 4401 when its token expires, or when the account is erased (its token stops working at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import msgspec
from litestar import Controller, Response, WebSocket, get, websocket

from service.core.access import require_member
from service.core.guard import BEARER_SECURITY, CurrentUser, verified_caller
from service.db.pool import DATABASE_ERRORS
from service.errors import Problem, handle_exception, problem_response
from service.live import models as m
from service.live.hub import Hub, Socket
from service.live.problems import PROBLEMS
from service.messages import user_message

log = logging.getLogger("service.live")
_DECODER = msgspec.json.Decoder(m.ClientMessage)
_CLOSES = "\n".join(f"- `{code}` {meaning}" for code, meaning in m.CLOSE_CODES.items())


class LiveController(Controller):
    path = "/live"
    tags = ["live"]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="openLiveSocket",
        summary="Live updates: a WebSocket that wx.connectSocket opens with the bearer token in its header",
        description=(
            "Open with `wx.connectSocket({url: 'wss://…/v1/live', header: {Authorization: 'Bearer …'}})`. "
            "The server sends the JSON text messages of the 101 answer; the client may send `view`, `ping` and "
            "`pong` (`x-client-messages`). A missing or bad token fails the handshake (401); the database away "
            "fails it with 503 `not_ready` and Retry-After. A plain HTTP GET answers 426 `upgrade_required`. "
            "At most LIVE_SOCKETS_PER_USER (5) sockets per member: a 6th closes "
            "the oldest. Reconnect after the app returns from the background and catch up with `since` on the "
            "feed and the inbox (docs/live.md). Close codes:\n\n" + _CLOSES
        ),
        responses=PROBLEMS.responses("unauthorized", "token_expired", "upgrade_required", "not_ready"),
        opt={"socket_messages": (m.SERVER_MESSAGES, m.CLIENT_MESSAGES)},
    )
    async def plain(self, caller: CurrentUser) -> None:
        raise Problem("upgrade_required", "open GET /v1/live as a WebSocket")


async def _refuse(socket: WebSocket, answer: Response[bytes]) -> None:
    """Answer the handshake with a problem instead of upgrading (ASGI's denial-response extension)."""
    await socket.receive()  # websocket.connect
    if "websocket.http.response" not in socket.scope.get("extensions", {}):
        code = msgspec.json.decode(answer.content)["code"]
        await socket.close(4401 if answer.status_code == 401 else 1011, code)
        return
    body = answer.content
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode(), value.encode()) for name, value in answer.headers.items()]
    await socket.send({"type": "websocket.http.response.start", "status": answer.status_code, "headers": headers})
    await socket.send({"type": "websocket.http.response.body", "body": body, "more_body": False})


@websocket("/live")
async def live_socket(socket: WebSocket) -> None:
    try:
        caller = verified_caller(socket)
    except Problem as problem:
        await _refuse(socket, problem_response(socket, problem))  # type: ignore[arg-type]
        return
    hub: Hub = socket.app.state.live
    if hub.draining:  # this instance stops soon: reconnect (the proxy sends the client elsewhere)
        await socket.accept()
        await socket.close(1001, "going_away")
        return
    try:
        # Before the upgrade: the database away answers 503 not_ready with Retry-After, as any request does (accepted
        # first, the failed read closed the socket with Litestar's 4500, which no client knows).
        me = await hub.open(socket, caller.id)
    except Exception as exc:  # noqa: BLE001  # answered as an HTTP request's error is, by the app's handler
        await _refuse(socket, handle_exception(socket, exc))  # type: ignore[arg-type]
        return
    tasks: list[asyncio.Task] = []
    try:
        await socket.accept()
        if caller.id in (socket.app.state.get("erased_accounts") or ()):  # erased since the token was checked
            me.end(4401, "token_expired")
        tasks = [asyncio.create_task(_write(me)), asyncio.create_task(_read(hub, me))]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(me.ended.wait(), max(caller.token_expires_at - time.time(), 0))
        me.end(4401, "token_expired")  # no-op when it ended otherwise
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(*DATABASE_ERRORS):
            await hub.leave(me)
        hub.close(me)
        if me.close_code is not None:
            with contextlib.suppress(Exception):  # a slow consumer may not take even the close frame
                async with asyncio.timeout(1):
                    await socket.close(me.close_code, me.close_reason)


async def _write(me: Socket) -> None:
    try:
        while True:
            await me.socket.send_text(await me.queue.get())
    except Exception:  # the client went away
        me.gone()


async def _read(hub: Hub, me: Socket) -> None:
    while True:
        try:
            message = await me.socket.receive()
        except Exception:  # the connection broke under the server
            message = {"type": "websocket.disconnect"}
        if message["type"] == "websocket.disconnect":
            me.gone()
            return
        me.heard = asyncio.get_running_loop().time()
        try:
            await _answer(hub, me, _DECODER.decode(message.get("text") or message.get("bytes") or b""))
        except msgspec.DecodeError:
            me.send(m.LiveError(code="validation_failed", message=user_message("validation_failed", False)))
        except Problem as problem:
            me.send(m.LiveError(code=problem.code, message=user_message(problem.code, False)))
        except Exception:
            log.exception("live message failed", extra={"userId": me.user_id})
            me.end(1011, "internal_error")


async def _answer(hub: Hub, me: Socket, message: m.ClientMessage) -> None:
    if isinstance(message, m.LivePing):
        me.send(m.LivePong())
    elif isinstance(message, m.LiveView):
        community_id = None if message.community_id is None else int(message.community_id)
        heard = me.changes  # a departure heard after this makes the check below stale (Hub.view reads again)
        if community_id is not None:
            async with hub.pool.acquire() as conn:
                await require_member(conn, community_id, me.user_id)
        await hub.view(me, community_id, heard)


CONTROLLERS = [LiveController, live_socket]
