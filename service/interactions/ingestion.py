"""Client events (POST /v1/events): each batch judged on its own, the batches of concurrent requests written together.

A request validates its events (time, kind, duplicates inside the batch) and hands the rest to the process's
`EventWriter`. The writer takes every batch queued while its previous write ran and, on one pooled connection,
checks membership and posts for all of them in one statement and COPYs their events in one more: one commit
for many requests instead of two statements and a commit each (goal: ingestion at 0.60 of COPY, issue 24). A
batch that passes its request's checks whole comes with its rows encoded for the COPY (event_copy.py), so the
writer, which the backend waits for, only joins them.
Each request is answered only after that commit, so an acknowledged event is durable, and each answer counts
its own events: an event already stored, or sent by an earlier batch of the same write, is a duplicate, as it
would be if the two requests had been written one after the other. A write that fails is retried batch by
batch, so one request's bad data fails that request alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar

from service.errors import Problem
from service.interactions import event_copy
from service.interactions import queries as q
from service.interactions.event_copy import Record
from service.interactions.models import BatchResult, ClientEvent, EventBatch, RejectedEvent
from service.settings import Settings

log = logging.getLogger("service.interactions")

FUTURE_TOLERANCE = timedelta(minutes=5)
WRITE_MAX_EVENTS = 5_000  # events per coalesced write: batches queued beyond it wait for the next one


@dataclass
class _Pending:
    """A batch's events that passed the checks needing no database, waiting for the writer."""

    user_id: int
    candidates: list[tuple[int, ClientEvent, datetime]]
    rejected: list[RejectedEvent]
    # When the request's checks rejected none: the (id, time) of its events and the (community, post) they name,
    # and its records as the writer would build them if every event passes its checks, encoded for the COPY.
    checked: tuple[set[tuple[str, datetime]], set[tuple[str, str]]] | None = None
    records: list[Record] = field(default_factory=list)
    rows: bytes = b""
    future: asyncio.Future[BatchResult] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


async def ingest(writer: EventWriter, settings: Settings, user_id: int, batch: EventBatch) -> BatchResult:
    """Accept the valid events of a batch, reject the others one by one; retries are absorbed."""
    if len(batch.events) > settings.event_batch_max:
        raise Problem("batch_too_large", f"at most {settings.event_batch_max} events per batch")
    now = datetime.now(UTC)
    oldest, latest = now - timedelta(days=settings.event_max_age_days), now + FUTURE_TOLERANCE
    rejected: list[RejectedEvent] = []
    events = batch.events
    if checked := _all_valid(events, ats := [event.at for event in events], oldest, latest):
        records: list[Record] = [
            (int(e.community_id), user_id, e.type, int(post_id := e.post_id), "post:" + post_id, e.dwell_ms, e.id, at)
            for e, at in zip(events, ats, strict=True)
        ]  # ids as sent are canonical (digits, no leading zero): as the writer would find them
        candidates = list(zip(range(len(events)), events, ats, strict=True))
        return await writer.write(_Pending(user_id, candidates, rejected, checked, records, event_copy.encode(records)))
    candidates: list[tuple[int, ClientEvent, datetime]] = []
    seen: set[tuple[str, datetime]] = set()

    def reject(index: int, event: ClientEvent, code: str, message: str) -> None:
        rejected.append(RejectedEvent(index=index, id=event.id, code=code, message=message))

    for index, event in enumerate(events):
        at = event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)  # no offset: UTC (RFC 3339 wants one)
        if at > latest:
            reject(index, event, "in_future", "the event's time is in the future")
        elif at < oldest:
            reject(index, event, "too_old", f"events older than {settings.event_max_age_days} days are refused")
        elif event.type in ("post_view", "share_open") and event.post_id is None:
            reject(index, event, "post_required", f"{event.type} needs postId")
        elif event.type == "page_view" and event.page is None and event.post_id is None:
            reject(index, event, "page_required", "page_view needs page or postId")
        elif (event.id, at) in seen:
            reject(index, event, "duplicate_in_batch", "the same id and time appear twice in this batch")
        else:
            seen.add((event.id, at))
            candidates.append((index, event, at))
    pending = _Pending(user_id, candidates, rejected)
    if not candidates:
        return _answer(pending, 0, 0)
    return await writer.write(pending)


def _all_valid(
    events: list[ClientEvent], ats: list[datetime], oldest: datetime, latest: datetime
) -> tuple[set[tuple[str, datetime]], set[tuple[str, str]]] | None:
    """Whether the loop of `ingest` would reject none of ``events`` (``ats``: their times), in a few passes at C
    speed: every time has an offset and lies in the window (a time without one cannot be compared with one:
    TypeError), every event names a post (then neither kind rule applies), no id and time come twice. If so,
    the (id, time) of the events and the (community, post) pairs they name; None otherwise."""
    try:
        if not (oldest <= min(ats) and max(ats) <= latest):
            return None
    except (TypeError, ValueError):  # ValueError: no events
        return None
    posts = [event.post_id for event in events]
    if None in posts:
        return None
    keys = set(zip([event.id for event in events], ats, strict=True))
    if len(keys) != len(ats):
        return None
    return keys, set(zip([event.community_id for event in events], posts, strict=True))


def _answer(pending: _Pending, accepted: int, duplicates: int) -> BatchResult:
    pending.rejected.sort(key=lambda r: r.index)
    return BatchResult(accepted=accepted, duplicates=duplicates, rejected=pending.rejected)


class EventWriter:
    """Writes the events of the batches queued in this process: one write at a time, each taking all that
    waits (up to WRITE_MAX_EVENTS), so concurrent requests share one statement and one commit."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._queue: list[_Pending] = []
        self._task: asyncio.Task[None] | None = None

    async def write(self, pending: _Pending) -> BatchResult:
        self._queue.append(pending)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await pending.future

    async def close(self) -> None:
        """Finish the writes already queued (their requests are waiting for them)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        while self._queue:
            taken, size = 1, len(self._queue[0].candidates)
            while taken < len(self._queue) and size + len(self._queue[taken].candidates) <= WRITE_MAX_EVENTS:
                size += len(self._queue[taken].candidates)
                taken += 1
            group, self._queue = self._queue[:taken], self._queue[taken:]
            try:
                await self._write(group)
            except asyncio.CancelledError:
                for pending in [*group, *self._queue]:
                    pending.future.cancel()
                raise
            except Exception as exc:  # one statement for all: nothing of the group was written
                if len(group) == 1:
                    _fail(group[0], exc)
                    continue
                log.warning("coalesced event write failed, writing batch by batch", extra={"error": repr(exc)})
                for one in group:
                    try:
                        await self._write([one])
                    except Exception as single:
                        _fail(one, single)

    async def _write(self, group: list[_Pending]) -> None:
        communities: set[str] = set()
        posts: set[str | None] = set()
        for pending in group:
            if pending.checked is not None:  # the pairs its events name: a few
                communities.update([community for community, _ in pending.checked[1]])
                posts.update([post for _, post in pending.checked[1]])
            else:
                communities.update([event.community_id for _, event, _ in pending.candidates])
                posts.update([event.post_id for _, event, _ in pending.candidates])
        posts.discard(None)
        users = {pending.user_id for pending in group}
        async with self._pool.acquire() as conn:
            found = await conn.fetchrow(
                q.VISIBLE_TARGETS_OF_MANY, list(users), [int(c) for c in communities], [int(p) for p in posts]
            )
            # Per member, the communities (as sent -> id) they are active in; per visible post as sent, its id,
            # its community and the events' target (ids as sent are canonical: digits, no leading zero).
            member_of: dict[int, dict[str, int]] = {user_id: {} for user_id in users}
            for user_id, community_id in zip(found["member_users"], found["member_communities"], strict=True):
                member_of[user_id][str(community_id)] = community_id
            visible = {
                str(post_id): (post_id, community_id, f"post:{post_id}")
                for post_id, community_id in zip(found["post_ids"], found["post_communities"], strict=True)
            }
            records: list[Record] = []
            rows: list[bytes] = []  # per batch, its records encoded
            spans: list[tuple[int, int]] = []  # per batch, its records' slice
            sent_by: dict[int, set[tuple[str, datetime]]] = {user_id: set() for user_id in users}  # (id, time)
            judged = [_Judged() for _ in group]
            for number, pending in enumerate(group):
                outcome, user_id, start = judged[number], pending.user_id, len(records)
                communities_of, sent = member_of[user_id], sent_by[user_id]
                if (
                    (checked := pending.checked) is not None
                    and checked[0].isdisjoint(sent)
                    and all(
                        (post := visible.get(post_sent)) is not None and post[1] == communities_of.get(community_sent)
                        for community_sent, post_sent in checked[1]
                    )
                ):
                    # Every event in a community of the member's, on a visible post of it, new to this write.
                    sent |= checked[0]
                    outcome.sent = len(pending.candidates)
                    records += pending.records
                    rows.append(pending.rows)
                    spans.append((start, len(records)))
                    continue
                for index, event, at in pending.candidates:
                    if (community_id := communities_of.get(event.community_id)) is None:
                        outcome.reject(index, event, "unknown_community", "no such community, or you are not a member")
                        continue
                    if event.post_id is None:
                        post_id, target = None, f"page:{event.page}"
                    elif (post := visible.get(event.post_id)) is not None and post[1] == community_id:
                        post_id, _, target = post
                    else:
                        outcome.reject(index, event, "unknown_post", "no such post in that community")
                        continue
                    outcome.sent += 1
                    if (key := (event.id, at)) in sent:
                        outcome.duplicates += 1  # sent by an earlier batch of this write
                    else:
                        sent.add(key)
                        records.append(
                            (community_id, user_id, event.type, post_id, target, event.dwell_ms, event.id, at)
                        )
                spans.append((start, len(records)))
                rows.append(event_copy.encode(records[start:]))
            # One statement, committed when it returns: every event of the group is durable before any answer.
            # Stored already: by a retry, or by another process meanwhile.
            if stored := await _store(conn, records, rows):
                owner = {(r[1], r[6], r[7]): n for n, (start, end) in enumerate(spans) for r in records[start:end]}
                for key in stored:
                    judged[owner[key]].duplicates += 1
        for pending, outcome in zip(group, judged, strict=True):
            pending.rejected += outcome.rejected
            if not pending.future.done():  # a request gone away (cancelled) is not answered
                pending.future.set_result(_answer(pending, outcome.sent - outcome.duplicates, outcome.duplicates))


async def _store(conn: asyncpg.Connection, records: list[Record], rows: list[bytes]) -> list[tuple[int, str, datetime]]:
    """Write new events (``rows``: ``records`` encoded, in parts); answers the keys of those stored already (a
    retried batch, or another process wrote them). COPY, as events are new but for retries; if one is stored, the
    unique index refuses the COPY (nothing of it is written) and the idempotent INSERT takes its place, naming the
    events it found stored."""
    if not records:
        return []
    columns = event_copy.COLUMNS
    try:
        copy = memoryview(b"".join([event_copy.HEADER, *rows, event_copy.TRAILER]))  # bytes would read as a path
        await conn.copy_to_table("interaction_events", source=copy, columns=columns, format="binary")
        return []
    except asyncpg.UniqueViolationError:
        found = await conn.fetch(
            q.INSERT_CLIENT_EVENTS, [dict(zip(columns, record, strict=True)) for record in records]
        )
        return [(row["user_id"], row["client_event_id"], row["occurred_at"]) for row in found]


@dataclass
class _Judged:
    """What one write made of a batch: rejections needing the database, events sent, duplicates among them."""

    rejected: list[RejectedEvent] = field(default_factory=list)
    sent: int = 0
    duplicates: int = 0

    def reject(self, index: int, event: ClientEvent, code: str, message: str) -> None:
        self.rejected.append(RejectedEvent(index=index, id=event.id, code=code, message=message))


def _fail(pending: _Pending, exc: Exception) -> None:
    if not pending.future.done():
        pending.future.set_exception(exc)


@asynccontextmanager
async def run_writer(app: Litestar) -> AsyncIterator[None]:
    """One event writer per API process, over the app's pool."""
    writer = EventWriter(app.state.pool)
    app.state.event_writer = writer
    try:
        yield
    finally:
        await writer.close()
