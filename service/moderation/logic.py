"""Reports, the queues and decisions.

A report opens (or joins) the one open case of its target; distinct reporters reaching the threshold hide a post
or comment until someone decides. Content WeChat's check held for `review` joins the queue when the queue is read.
A decision is taken once: the case row is locked, a second moderator deciding the same gets the same answer, one
deciding otherwise `case_decided`. What it does to posts and comments (the feed) and to members and communities
(communities) goes through the core's hooks, in the decision's transaction: a refused sanction undoes it all.
"""

from __future__ import annotations

from functools import partial

import asyncpg
from litestar import Response

from service.core.access import ADMIN_ROLES, access_row
from service.core.hooks import Moderated, Sanctioned, moderated, sanctioned
from service.core.idempotency import run_once, scope_of
from service.core.inbox import Item, deliver
from service.core.media import signed_json
from service.core.paging import fetch_page
from service.core.rows import from_row, invalid
from service.core.storage import Storage
from service.errors import Problem
from service.jobs import enqueue
from service.moderation import models as m
from service.moderation import queries as q
from service.settings import Settings

NOTIFY_KIND = "moderation.notify"


async def _target(conn: asyncpg.Connection, data: m.ReportCreate) -> asyncpg.Record:
    kind, target_id = data.target_kind, int(data.target_id)
    if kind == "member" and data.community_id is None:
        raise invalid("communityId", "say in which community the member misbehaved")
    args = (target_id, int(data.community_id)) if kind == "member" else (target_id,)  # type: ignore[arg-type]
    target = await conn.fetchrow(q.TARGETS[kind], *args)
    if target is None or not (
        target["visible"]
        # Hidden a moment ago by others' reports: a report sent as it was seen still joins the open case.
        or (target["held"] and await conn.fetchval(q.HIDDEN_BY_REPORTS, target["community_id"], kind, target_id))
    ):
        raise Problem("not_found", f"no such {kind}")
    return target


async def report(
    conn: asyncpg.Connection, settings: Settings, reporter_id: int, data: m.ReportCreate, key: str | None
) -> Response[bytes]:
    if data.reason == "other" and not data.note.strip():
        raise invalid("note", "say what is wrong when the reason is `other`")

    async def action() -> tuple[int, m.Report]:
        target = await _target(conn, data)
        community_id, author_id = target["community_id"], target["author_id"]
        standing = await access_row(conn, community_id, reporter_id)
        if standing["status"] != "active":  # what a non-member cannot see does not exist for them
            raise Problem("not_member" if data.target_kind == "community" else "not_found")
        if author_id == reporter_id:
            raise Problem("cannot_report_yourself")
        staff = author_id is not None and await conn.fetchval(q.STANDING_ROLE, community_id, author_id) in ADMIN_ROLES
        queue = "operator" if data.target_kind == "community" or staff else "community"
        target_id = int(data.target_id)
        case = await conn.fetchrow(q.OPEN_CASE, community_id, queue, data.target_kind, target_id, author_id)
        # The upsert waited for a decision that held the open case's row: seen again now, content it removed (or a
        # member it removed) is gone for this report too, rather than the target of a new case.
        await _target(conn, data)
        report_id = await conn.fetchval(
            q.INSERT_REPORT, reporter_id, community_id, case["id"], data.target_kind, target_id, data.reason, data.note
        )
        if report_id is None:
            raise Problem("already_reported")
        hidden = await conn.fetchval(q.COUNT_REPORTER, case["id"], settings.report_hide_threshold)
        if hidden and not case["hidden"]:
            await moderated(conn, Moderated(data.target_kind, target_id, "hide"))
        return 201, from_row(m.Report, await conn.fetchrow(q.REPORT, report_id))

    return await run_once(conn, reporter_id, key, scope_of("moderation.report", data), action)


async def my_reports(conn: asyncpg.Connection, user_id: int, limit: int, cursor: str | None) -> m.ReportPage:
    items, next_cursor = await fetch_page(
        conn, q.MY_REPORTS, user_id, limit=limit, cursor=cursor, item=partial(from_row, m.Report)
    )
    return m.ReportPage(items=items, next_cursor=next_cursor)


async def my_removals(conn: asyncpg.Connection, user_id: int, limit: int, cursor: str | None) -> m.RemovalPage:
    items, next_cursor = await fetch_page(
        conn, q.MY_REMOVALS, user_id, limit=limit, cursor=cursor, item=partial(from_row, m.Removal)
    )
    return m.RemovalPage(items=items, next_cursor=next_cursor)


async def queue(
    conn: asyncpg.Connection,
    storage: Storage,
    community_id: int | None,
    status: str,
    limit: int,
    cursor: str | None,
) -> Response[bytes]:
    """A community's queue (``community_id``) or the operator's (None), with the photos' URLs signed."""
    await conn.execute(q.COLLECT_REVIEWS, community_id)
    kind = "community" if community_id is not None else "operator"
    items, next_cursor = await fetch_page(
        conn, q.QUEUE, community_id, kind, status, limit=limit, cursor=cursor, item=partial(from_row, m.Case)
    )
    return await signed_json(storage, m.CasePage(items=items, next_cursor=next_cursor))


async def community_queue(
    conn: asyncpg.Connection,
    storage: Storage,
    community_id: int,
    user_id: int,
    status: str,
    limit: int,
    cursor: str | None,
) -> Response[bytes]:
    standing = await access_row(conn, community_id, user_id)
    if standing["status"] != "active":
        raise Problem("not_member")
    if standing["role"] not in ADMIN_ROLES:
        raise Problem("forbidden", "only the community's admins moderate it")
    return await queue(conn, storage, community_id, status, limit, cursor)


async def _case_for(conn: asyncpg.Connection, case_id: int, actor_id: int | None, *, lock: bool) -> asyncpg.Record:
    """The case, if the caller decides it: its community's admins (community queue) or the operator (operator
    queue), by the queue it belongs to now (queries._QUEUE_NOW). Anyone else: `not_found`, as if it did not exist."""
    case = await conn.fetchrow(q.CASE_ROW, case_id)
    if case is None:
        raise Problem("not_found", "no such case")
    if lock:
        case = await conn.fetchrow(q.LOCK_CASE, case["community_id"], case_id)
    queue_now = await conn.fetchval(q.QUEUE_NOW, case["community_id"], case_id)
    if actor_id is None:
        if queue_now != "operator":
            raise Problem("not_found", "no such case in the operator's queue")
        return case
    standing = await access_row(conn, case["community_id"], actor_id)
    if queue_now != "community" or standing["status"] != "active" or standing["role"] not in ADMIN_ROLES:
        raise Problem("not_found", "no such case")
    return case


async def read_case(conn: asyncpg.Connection, storage: Storage, case_id: int, actor_id: int | None) -> Response[bytes]:
    await _case_for(conn, case_id, actor_id, lock=False)
    return await signed_json(storage, from_row(m.Case, await conn.fetchrow(q.CASE, case_id)))


async def _tell(conn: asyncpg.Connection, case: asyncpg.Record, status: str, reason: str, tell_author: bool) -> None:
    """The inbox: each reporter hears the outcome of their report, the author of removed content why (unless they
    had deleted it themselves)."""
    outcome = "upheld" if status == "removed" else "dismissed"
    kind, target_id, community_id = case["target_kind"], case["target_id"], case["community_id"]
    for report in await conn.fetch(q.REPORTERS, case["id"]):
        data = {"outcome": outcome, "targetKind": kind, "targetId": str(target_id)}
        await deliver(
            conn, Item(report["reporter_id"], "report_decided", "report", report["id"], community_id, data=data)
        )
    if status == "removed" and kind in ("post", "comment") and case["author_id"] is not None and tell_author:
        data = {"reason": reason, "targetKind": kind}
        await deliver(conn, Item(case["author_id"], "content_removed", kind, target_id, community_id, data=data))


async def decide(
    conn: asyncpg.Connection, storage: Storage, case_id: int, actor_id: int | None, data: m.Decision
) -> Response[bytes]:
    """Approve or remove, once; with the author's mute or removal when admins ask for it."""
    sanctions = [("mute_author", data.mute_author_minutes)] if data.mute_author_minutes else []
    sanctions += [("remove_author", None)] if data.remove_author else []
    if sanctions and actor_id is None:
        raise invalid("muteAuthorMinutes", "members are muted or removed by their community's admins")
    status = "approved" if data.action == "approve" else "removed"
    reason = data.reason.strip()
    async with conn.transaction():
        case = await _case_for(conn, case_id, actor_id, lock=True)
        if case["status"] != "open":
            if case["status"] != status:
                raise Problem("case_decided", f"already decided: {case['status']}")
            return await read_case(conn, storage, case_id, actor_id)  # the same decision again: its answer
        if sanctions and case["author_id"] is None:
            raise invalid("muteAuthorMinutes", "this case has no author to mute or remove")
        # An author who left (or was removed, or erased their account) has no membership to sanction: say so, not
        # the member rules' `not_found`, which reads as if the content were gone.
        if sanctions and await conn.fetchval(q.ROLE, case["community_id"], case["author_id"]) is None:
            raise Problem("author_not_member", "the author is no longer a member of the community")
        community_id, kind, target_id = case["community_id"], case["target_kind"], case["target_id"]
        await conn.execute(q.DECIDE, case_id, status, actor_id, reason)
        await conn.execute(q.INSERT_ACTION, case_id, community_id, actor_id, data.action, reason, {})
        tell_author = True
        if kind in ("post", "comment"):
            await moderated(conn, Moderated(kind, target_id, "release" if status == "approved" else "remove"))
            # Deleted by its author before the decision (the hook holds its row now): not theirs to hear about.
            tell_author = not await conn.fetchval(q.DELETED_BY_AUTHOR[kind], community_id, target_id)
        elif kind == "community" and status == "removed":
            await sanctioned(conn, Sanctioned(community_id, actor_id, "delist", reason=reason))
        for action, minutes in sanctions:
            event = Sanctioned(
                community_id, actor_id, action.removesuffix("_author"), case["author_id"], minutes, reason
            )
            await sanctioned(conn, event)
            await conn.execute(q.INSERT_ACTION, case_id, community_id, actor_id, action, reason, {"minutes": minutes})
        await _tell(conn, case, status, reason, tell_author)
        await enqueue(conn, NOTIFY_KIND, {"case_id": case_id, "tell_author": tell_author}, max_attempts=6)
        return await read_case(conn, storage, case_id, actor_id)
