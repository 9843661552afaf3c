"""One hub per API process: the one LISTEN connection, the open sockets and what each follows.

PostgreSQL hands every committed event (core/live.py) to the hub's listening connection once per process; the
hub puts it, encoded once, in the bounded queue of each socket that follows one of its targets. A socket whose
queue is full is a slow consumer: it is closed, and nobody else waits for it. Every LIVE_PING_SECONDS the hub
pings, closes the idle, refreshes memberships, extends the presence of the sockets viewing a community and
sends the online counts that changed. A member's departure or admission (core/live.py `departed`, `joined`) takes
effect at once: the community is dropped or added as its word arrives, before any later event, and the member's
memberships are re-read. So does a block (`blocks`): each socket knows whom its member blocked and is handed no event
they wrote (`authorId`); a set lookup per socket and event, read with the memberships.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

import asyncpg
import msgspec
from litestar import WebSocket

from service.core import live, presence
from service.db.pool import DATABASE_ERRORS, connect
from service.live import models as m
from service.live import queries as q
from service.live.badge import Badges
from service.settings import Settings

log = logging.getLogger("service.live")

_PING = msgspec.json.encode(m.LivePing()).decode()


def viewers(community_id: int) -> str:
    """The target of a community's online counts: the sockets viewing it."""
    return f"v{community_id}"


class Socket:
    """One open socket of a member: its queue of encoded events and the targets it follows."""

    def __init__(self, socket: WebSocket, user_id: int, queue_size: int) -> None:
        self.socket = socket
        self.user_id = user_id
        self.queue: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self.targets: set[str] = set()  # what it follows (Hub._follow)
        self.viewing: int | None = None
        self.changes = 0  # departures, admissions, blocks heard: a membership read begun before the last one is stale
        self.blocked: set[int] | None = None  # whom the member blocked; None until read (events wait in `held`)
        self.held: list[tuple[int, str]] = []  # events with an author that came before `blocked` was read
        self.heard = asyncio.get_running_loop().time()
        self.ended = asyncio.Event()
        self.close_code: int | None = 1000
        self.close_reason = "closed"

    def offer(self, text: str) -> None:
        if self.ended.is_set():
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("live socket dropped: slow consumer", extra={"userId": self.user_id})
            self.end(4429, "slow_consumer")

    def hand(self, text: str, author_id: int | None) -> None:
        """An event that ``author_id`` wrote (None: nobody's, or a robot's): not for a member who blocked them."""
        if author_id is None:
            self.offer(text)
        elif self.blocked is None:
            self.held.append((author_id, text))
            if len(self.held) > self.queue.maxsize:
                self.end(4429, "slow_consumer")
        elif author_id not in self.blocked:
            self.offer(text)

    def know_blocks(self, blocked: set[int]) -> None:
        """Whom the member blocked, as read: the events held until now go on, less theirs."""
        self.blocked = blocked
        held, self.held = self.held, []
        for author_id, text in held:
            self.hand(text, author_id)

    def send(self, message: msgspec.Struct) -> None:
        self.offer(msgspec.json.encode(message).decode())

    def gone(self) -> None:
        """The client went away: nothing left to close."""
        self.close_code = None
        self.ended.set()

    def end(self, code: int, reason: str) -> None:
        if not self.ended.is_set():
            self.close_code, self.close_reason = code, reason
            self.ended.set()


class Hub:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self.sockets: dict[int, list[Socket]] = defaultdict(list)  # by member, oldest first
        self.following: dict[str, set[Socket]] = defaultdict(set)  # by target
        self.counts: dict[int, int] = {}  # the online count last sent, by viewed community
        self.listener: asyncpg.Connection | None = None
        self._ticker: asyncio.Task | None = None
        self._rereads: set[asyncio.Task] = set()  # memberships re-read after a departure
        self.draining = False  # the instance is about to stop: sockets go elsewhere
        self.badges = Badges(pool, self._hand)  # notification events, with the unread count read after commit

    # --- the process's life ---

    async def start(self) -> None:
        await self._listen()
        self._ticker = asyncio.create_task(self._tick_forever())

    async def stop(self) -> None:
        """Close every socket (1001 going away) and the listening connection."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for task in list(self._rereads):
            task.cancel()
        await self.badges.stop()
        for socket in self.all():
            socket.end(1001, "going_away")
        with contextlib.suppress(TimeoutError):  # a handler stuck on a dead client does not hold the shutdown
            async with asyncio.timeout(5):
                while self.sockets:
                    await asyncio.sleep(0.01)
        if self.listener is not None:
            await self.listener.close()

    def drain(self) -> None:
        """Close every socket (1001 going away) and turn new ones away: the clients reconnect, through the
        proxy, to an instance that stays."""
        self.draining = True
        for socket in self.all():
            socket.end(1001, "going_away")

    async def _listen(self) -> None:
        self.listener = await connect(self.settings.database_url)
        await self.listener.add_listener(live.CHANNEL, self._notified)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        message = msgspec.json.decode(payload)
        if "departed" in message:
            self._departed(message["to"], message["departed"])
            return
        if "joined" in message:
            self._joined(message["to"], message["joined"])
            return
        if "blocks" in message:
            self._blocks(message["to"], message["blocks"], message["blocking"])
            return
        event = message["event"]
        if event.get("type") == "notification":  # to members (core/inbox.py `user` targets) with a socket here
            for target in message["to"]:
                if target in self.following and target.startswith("u"):
                    self.badges.count(int(target[1:]), event)
            return
        text = msgspec.json.encode(event).decode()
        author = event.get("authorId")
        author_id = None if author is None else int(author)
        reached: set[Socket] = set()
        for target in message["to"]:
            reached.update(self.following.get(target, ()))
        for socket in reached:
            socket.hand(text, author_id)

    def _hand(self, target: str, text: str) -> None:
        for socket in list(self.following.get(target, ())):
            socket.offer(text)

    # --- sockets ---

    def all(self) -> list[Socket]:
        return [socket for sockets in self.sockets.values() for socket in sockets]

    async def open(self, websocket: WebSocket, user_id: int) -> Socket:
        """Register a socket; past LIVE_SOCKETS_PER_USER the member's oldest is closed (4409 replaced): WeChat
        itself opens at most 5, so a 6th means an older one died without the server noticing."""
        socket = Socket(websocket, user_id, self.settings.live_queue_size)
        # First in its queue, before any event of the member it follows from the next line on.
        socket.send(m.LiveReady(user_id=str(user_id), ping_seconds=self.settings.live_ping_seconds))
        # Counted before the first await, so the member's sockets are in the order they opened: registered after
        # the read below, sockets opened together took their places in the order their reads came back, and the
        # one closed as the oldest could be a newer one.
        mine = self.sockets[user_id]
        mine.append(socket)
        for old in mine[: -self.settings.live_sockets_per_user]:
            old.end(4409, "replaced")
        # Following the member before the read: a departure or admission committed after the read reaches this
        # socket (`changes`), and the read, stale then, is done again rather than followed for a whole ping interval.
        self._follow(socket, {live.user(user_id)})
        try:
            async with self.pool.acquire() as conn:
                communities, blocked = await _read(conn, [user_id])
        except BaseException:
            self.close(socket)
            raise
        if socket.changes:
            self._reread_later({socket})
        else:
            self._follow(socket, {live.user(user_id), *(live.community(c) for c in communities.get(user_id, ()))})
            socket.know_blocks(blocked.get(user_id, set()))
        return socket

    def close(self, socket: Socket) -> None:
        self._follow(socket, set())
        mine = self.sockets[socket.user_id]
        mine.remove(socket)
        if not mine:
            del self.sockets[socket.user_id]

    def erased(self, user_id: int) -> None:
        """The account was erased (core/revocation.py): its sockets close as if their token had expired, since it
        no longer works."""
        for socket in self.sockets.get(user_id, ()):
            socket.end(4401, "token_expired")

    def _follow(self, socket: Socket, targets: set[str]) -> None:
        for target in socket.targets - targets:
            followers = self.following[target]
            followers.discard(socket)
            if not followers:
                del self.following[target]
        for target in targets - socket.targets:
            self.following[target].add(socket)
        socket.targets = targets

    async def view(self, socket: Socket, community_id: int | None, changes: int | None = None) -> None:
        """The socket views a community (None: none): its presence there counts, its online counts follow.
        The caller checked the membership, having heard ``changes`` departures and admissions by then."""
        await self.leave(socket)
        targets = {t for t in socket.targets if not t.startswith("v")}
        socket.viewing = community_id
        if community_id is None:
            self._follow(socket, targets)
            return
        self._follow(socket, targets | {live.community(community_id), viewers(community_id)})
        if changes is not None and socket.changes != changes:
            # A departure heard since the check: its re-read, begun before this view, would keep the view as checked.
            # That read is stale now (changes): read again, the socket viewing the community.
            socket.changes += 1
            self._reread_later({socket})
        gap = self.settings.presence_gap_seconds
        async with self.pool.acquire() as conn, conn.transaction():
            session = await presence.touch(conn, socket.user_id, community_id, gap)
            if session is None:  # removed since the check: no presence; the departure's word ends the view
                return
            count = await presence.online(conn, community_id, gap)
            arrived = session["started_at"] == session["last_seen_at"]
            if arrived:  # tell every viewer, this socket included
                await live.publish(conn, [viewers(community_id)], msgspec.to_builtins(_online(community_id, count)))
        if not arrived:
            socket.send(_online(community_id, count))

    async def leave(self, socket: Socket) -> None:
        """The socket stops viewing its community (it views another, or closes): present until now."""
        if socket.viewing is not None:
            async with self.pool.acquire() as conn:
                await presence.touch(conn, socket.user_id, socket.viewing, self.settings.presence_gap_seconds)
            socket.viewing = None

    def _departed(self, targets: list[str], community_id: int) -> None:
        """A member left a community: their sockets stop following it now, synchronously, so no event committed
        after the departure reaches them; the re-read restores what they still stand in (the brand's team)."""
        sockets = {socket for target in targets for socket in self.following.get(target, ())}
        for socket in sockets:
            socket.changes += 1
            self._follow(socket, socket.targets - {live.community(community_id), viewers(community_id)})
        self._reread_later(sockets)

    def _joined(self, targets: list[str], community_id: int) -> None:
        """A member was admitted: their sockets follow the community now, so every event committed after the
        admission (the welcome post first) reaches them; a membership read begun before it is stale."""
        sockets = {socket for target in targets for socket in self.following.get(target, ())}
        for socket in sockets:
            socket.changes += 1
            self._follow(socket, socket.targets | {live.community(community_id)})
        self._reread_later(sockets)

    def _blocks(self, targets: list[str], other_id: int, blocking: bool) -> None:
        """A member blocked (unblocked) another: their sockets stop (resume) hearing of the other's writing now, before
        any event committed after it; a membership read begun before it is stale, so it is read again."""
        sockets = {socket for target in targets for socket in self.following.get(target, ())}
        for socket in sockets:
            socket.changes += 1
            if socket.blocked is not None:
                socket.blocked = socket.blocked | {other_id} if blocking else socket.blocked - {other_id}
        self._reread_later(sockets)

    def _reread_later(self, sockets: set[Socket]) -> None:
        if sockets:
            task = asyncio.get_running_loop().create_task(self._reread(list(sockets)))
            self._rereads.add(task)
            task.add_done_callback(self._rereads.discard)

    async def _reread(self, sockets: list[Socket]) -> None:
        try:
            async with self.pool.acquire() as conn:
                await self._refollow(conn, sockets)
        except DATABASE_ERRORS as exc:  # the next tick reads them again
            log.warning("live memberships re-read failed", extra={"error": repr(exc)})

    async def _refollow(self, conn: asyncpg.Connection, sockets: list[Socket]) -> None:
        """What these sockets follow, read again: their member, the communities the member is active in, and the
        community viewed (its posts and online counts) while the member still stands there; a community they no
        longer stand in is no longer viewed. A socket that closed meanwhile, or heard a departure or an admission since
        the read began (a newer read follows), is left alone."""
        began = {socket: (socket.changes, socket.viewing) for socket in sockets}
        communities, blocked = await _read(conn, list({socket.user_id for socket in sockets}))
        viewers_of: dict[int, set[int]] = {}
        for socket in sockets:
            if socket.viewing is not None:
                viewers_of.setdefault(socket.viewing, set()).add(socket.user_id)
        standing = {
            (row["user_id"], community_id)
            for community_id, users in viewers_of.items()
            for row in await conn.fetch(q.STANDING, community_id, list(users))
        }
        for socket, (departures, viewing) in began.items():
            if socket.changes != departures or socket not in self.sockets.get(socket.user_id, ()):
                continue
            targets = {live.user(socket.user_id), *(live.community(c) for c in communities.get(socket.user_id, ()))}
            if socket.viewing != viewing:  # it viewed another meanwhile, checked by then: keep what view() followed
                if socket.viewing is not None:
                    targets |= {live.community(socket.viewing), viewers(socket.viewing)}
            elif viewing is not None and (socket.user_id, viewing) in standing:
                targets |= {live.community(viewing), viewers(viewing)}
            else:
                socket.viewing = None  # removed, left or gone: its presence and online counts end here
            self._follow(socket, targets)
            socket.know_blocks(blocked.get(socket.user_id, set()))

    # --- every LIVE_PING_SECONDS ---

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.live_ping_seconds)
            try:
                await self.tick()
            except DATABASE_ERRORS as exc:
                log.warning("live tick failed", extra={"error": repr(exc)})

    async def tick(self) -> None:
        now = asyncio.get_running_loop().time()
        for socket in self.all():
            if now - socket.heard > 2 * self.settings.live_ping_seconds:
                socket.end(4408, "idle")
            else:
                socket.offer(_PING)
        if self.listener is None or self.listener.is_closed():
            await self._listen()  # events in between were lost: clients catch up with `since`
            for socket in self.all():
                socket.send(m.LiveResync())
        async with self.pool.acquire() as conn:
            await self._refresh(conn)

    async def _refresh(self, conn: asyncpg.Connection) -> None:
        """Memberships that changed, presence of the viewing sockets, online counts that changed."""
        await self._refollow(conn, self.all())
        gap = self.settings.presence_gap_seconds
        viewed: set[int] = set()
        for socket in self.all():
            if socket.viewing is not None and viewers(socket.viewing) in socket.targets:  # still standing there
                await presence.touch(conn, socket.user_id, socket.viewing, gap)
                viewed.add(socket.viewing)
        for community_id in viewed:
            count = await presence.online(conn, community_id, gap)
            if self.counts.get(community_id) != count:
                self.counts[community_id] = count
                text = msgspec.json.encode(_online(community_id, count)).decode()
                for socket in self.following.get(viewers(community_id), ()):
                    socket.offer(text)
        self.counts = {c: n for c, n in self.counts.items() if c in viewed}


async def _read(conn: asyncpg.Connection, user_ids: list[int]) -> tuple[dict[int, list[int]], dict[int, set[int]]]:
    """The communities each member is active in, and whom each blocked."""
    communities = {row["user_id"]: row["communities"] for row in await conn.fetch(q.MEMBERSHIPS, user_ids)}
    blocked = {row["user_id"]: set(row["blocked"]) for row in await conn.fetch(q.BLOCKED, user_ids)}
    return communities, blocked


def _online(community_id: int, count: int) -> m.LiveOnline:
    return m.LiveOnline(community_id=str(community_id), count=count)
