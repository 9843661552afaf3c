"""The keyword robot: rules managed by a community's admins, answers in the feed and to customer service.

- In the feed: when a member's post or comment becomes visible (its author still a member then), the
  community's enabled rules are tried in creation order; the first that matches and whose cooldown for that
  member has lapsed answers with a robot comment (on the post, or in the comment's thread as a reply to it). One
  answer per text at most; robots never answer robots, and robot comments never count as activity.
- Customer service: messages pushed by WeChat are answered with the rules of the community named by
  CUSTOMER_SERVICE_COMMUNITY_ID (the brand's own community; none set: no answers), through the customer-service
  send API, from a job (the push itself is answered at once).
- A rule's reply passes WeChat's content check when it is written (it is published under a robot's name,
  so "review" is not good enough either).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import msgspec
from msgspec import UNSET

from service.core import hooks
from service.core.access import access_row
from service.core.apps import require_app_member
from service.core.content import require_pass
from service.core.hooks import Published
from service.core.paging import fetch_page
from service.core.revocation import hold_account
from service.core.robots import comment_as_robot
from service.core.rows import from_row, lock_in_community
from service.errors import FieldError, Problem
from service.jobs import enqueue
from service.robots import matching
from service.robots import models as m
from service.robots import queries as q
from service.robots.problems import MAX_RULES
from service.robots.push import SEAL_KEEP, ForgedPush, InboundMessage, Seal
from service.settings import Settings
from service.wechat.client import WeChatClient
from service.wechat.errors import WeChatUnavailable

log = logging.getLogger("service.robots")

APP = "robots"  # switched off, its rules are neither managed nor matched (queries.ENABLED_RULES)
REPLY_KIND = "robots.customer_reply"  # the job that answers a customer-service message
FORGET_SEALS_KIND = "robots.forget_push_seals"  # periodic: drops the seals of stale push queries


# A rule's fields an update may change, in the order UPDATE_RULE takes them.
_FIELDS = ("keyword", "match_mode", "reply", "enabled", "cooldown_seconds")


def _rule(row: Any) -> m.Rule:
    return from_row(m.Rule, row)


def _invalid(field: str, message: str) -> Problem:
    return Problem("validation_failed", message, errors=[FieldError(field=field, message=message, source="body")])


async def _validate(keyword: str, mode: str) -> str:
    keyword = keyword if mode == "regex" else keyword.strip()
    if not keyword.strip():
        raise _invalid("keyword", "must not be blank")
    if mode == "regex":
        try:
            # Probing a pattern may take a few tens of milliseconds: off the event loop.
            await asyncio.to_thread(matching.validate_pattern, keyword)
        except matching.PatternError as exc:
            raise _invalid("keyword", str(exc)) from None
    return keyword


async def _check_reply(pool: asyncpg.Pool, wechat: WeChatClient, user_id: int, reply: str) -> None:
    """The reply goes out under a robot's name: it must pass WeChat's check outright (no connection held)."""
    async with pool.acquire() as conn:
        openid = await conn.fetchval(q.USER_OPENID, user_id)
    await require_pass(wechat, openid or "", reply, "the reply")


async def create_rule(
    pool: asyncpg.Pool, wechat: WeChatClient, community_id: int, user_id: int, data: m.RuleCreate
) -> m.Rule:
    async with pool.acquire() as conn:
        await require_app_member(conn, community_id, user_id, APP, admin=True)
    # Only then the pattern: trying it on the probes costs CPU (up to its timeout) that a stranger must not spend.
    keyword = await _validate(data.keyword, data.match_mode)
    await _check_reply(pool, wechat, user_id, data.reply)
    async with pool.acquire() as conn, conn.transaction():
        await hold_account(conn, user_id)
        await require_app_member(conn, community_id, user_id, APP, admin=True)
        await conn.execute(q.LOCK_RULES_OF, community_id)  # count, then add
        if await conn.fetchval(q.COUNT_RULES, community_id) >= MAX_RULES:
            raise Problem("too_many_rules")
        row = await conn.fetchrow(
            q.INSERT_RULE,
            community_id,
            keyword,
            data.match_mode,
            data.reply.strip(),
            data.enabled,
            data.cooldown_seconds,
            user_id,
        )
    return _rule(row)


async def list_rules(
    conn: asyncpg.Connection, community_id: int, user_id: int, limit: int, cursor: str | None
) -> m.RulePage:
    await require_app_member(conn, community_id, user_id, APP, admin=True)
    items, next_cursor = await fetch_page(conn, q.RULES, community_id, limit=limit, cursor=cursor, item=_rule)
    return m.RulePage(items=items, next_cursor=next_cursor)


async def _rule_for_admin(conn: asyncpg.Connection, rule_id: int, user_id: int, *, lock: bool = False) -> Any:
    if lock:
        row = await lock_in_community(conn, q.RULE_COMMUNITY, q.LOCK_RULE, rule_id)
    else:
        row = await conn.fetchrow(q.RULE, rule_id)
    if row is None:
        raise Problem("not_found", "no such robot rule")
    await require_app_member(conn, int(row["community_id"]), user_id, APP, admin=True)
    return row


async def update_rule(
    pool: asyncpg.Pool, wechat: WeChatClient, rule_id: int, user_id: int, data: m.RuleUpdate
) -> m.Rule:
    """Only the fields sent change: another admin's change to the others, made while this one was checked, stands."""
    sent = {name: value for name, value in msgspec.structs.asdict(data).items() if value is not UNSET}
    async with pool.acquire() as conn:
        current = await _rule_for_admin(conn, rule_id, user_id)
    values = {**{name: current[name] for name in _FIELDS}, **sent}
    keyword = await _validate(values["keyword"], values["match_mode"])
    checked = (keyword, values["match_mode"])
    if "keyword" in sent:
        sent["keyword"] = keyword
    if "reply" in sent:
        sent["reply"] = sent["reply"].strip()
        if sent["reply"] != current["reply"]:
            await _check_reply(pool, wechat, user_id, sent["reply"])
    async with pool.acquire() as conn, conn.transaction():
        locked = await _rule_for_admin(conn, rule_id, user_id, lock=True)
        values = {**{name: locked[name] for name in _FIELDS}, **sent}
        if (values["keyword"], values["match_mode"]) != checked:  # the keyword or the mode changed meanwhile
            values["keyword"] = await _validate(values["keyword"], values["match_mode"])
        row = await conn.fetchrow(q.UPDATE_RULE, rule_id, *(values[name] for name in _FIELDS))
    return _rule(row)


async def delete_rule(conn: asyncpg.Connection, rule_id: int, user_id: int) -> None:
    async with conn.transaction():
        await _rule_for_admin(conn, rule_id, user_id, lock=True)
        await conn.execute(q.DELETE_RULE, rule_id)


# --- answering ---------------------------------------------------------------------------------------------


async def _matching_rules(conn: asyncpg.Connection, community_id: int, text: str) -> list[Any]:
    """The enabled rules of the community that match ``text``, in the order they are tried."""
    rules = await conn.fetch(q.ENABLED_RULES, community_id)
    keywords = [(rule["match_mode"], rule["keyword"]) for rule in rules]
    if any(mode == "regex" for mode, _ in keywords):
        # Up to MATCH_BUDGET of regex matching: in a thread (the GIL released), so the process serves meanwhile.
        found = await asyncio.to_thread(matching.match_rules, keywords, text)
    else:
        found = matching.match_rules(keywords, text)
    return [rule for rule, matched in zip(rules, found, strict=True) if matched]


async def _take_first(conn: asyncpg.Connection, community_id: int, member: str, rules: list[Any]) -> Any | None:
    for rule in rules:
        if await conn.fetchval(q.TAKE_COOLDOWN, rule["id"], member, float(rule["cooldown_seconds"]), community_id):
            return rule
    return None


async def choose_rule(conn: asyncpg.Connection, community_id: int, member: str, text: str) -> Any | None:
    """The first enabled rule of the community that matches ``text`` and may answer ``member`` now; its
    cooldown for that member is taken (in the caller's transaction)."""
    return await _take_first(conn, community_id, member, await _matching_rules(conn, community_id, text))


async def answer_in_feed(conn: asyncpg.Connection, event: Published) -> int | None:
    """The hook on a member's post or comment becoming visible (in that transaction): the robot's comment id,
    or None when no rule answers."""
    community_id, post_id, comment_id = event.community_id, event.post_id, event.comment_id
    rules = await _matching_rules(conn, community_id, event.text)
    if not rules:
        return None
    # Shown later (WeChat's photo check, a re-check, an admin's release): its author may have left or been removed
    # since, and the robot does not answer in public someone no longer here. A mute only stops new writing. Read
    # before a cooldown is taken: no answer must not use up the one they get when back.
    if (await access_row(conn, community_id, event.author_id))["status"] != "active":
        return None
    rule = await _take_first(conn, community_id, f"user:{event.author_id}", rules)
    if rule is None:
        return None
    reply_id = await comment_as_robot(
        conn,
        community_id,
        post_id,
        "keyword",
        rule["reply"],
        thread_id=event.thread_id if comment_id is not None else None,
        reply_to_id=comment_id,
    )
    await conn.execute(q.INSERT_FEED_REPLY, rule["id"], community_id, event.author_id, post_id, comment_id, reply_id)
    return reply_id


async def _take_seal(conn: asyncpg.Connection, seal: Seal) -> None:
    """The signed query is good for its first body (and that body again: WeChat's retry); with another body it is
    someone replaying a push URL they saw, since plain mode signs no body. A concurrent first waits here."""
    if await conn.fetchval(q.TAKE_SEAL, seal.signature, seal.body_sha256, seal.timestamp, float(SEAL_KEEP)):
        return
    if await conn.fetchval(q.SEAL_BODY, seal.signature) != seal.body_sha256:
        raise ForgedPush("this signed query came with another body")


async def receive_customer_message(pool: asyncpg.Pool, message: InboundMessage) -> None:
    """Store a pushed message once (WeChat retries pushes) and queue the answer, in one transaction. An image
    check's verdict goes to whichever domain handles it (service.core.hooks). Raises ForgedPush when the signed
    query came with another body before."""
    async with pool.acquire() as conn, conn.transaction():
        await _take_seal(conn, message.seal)
        if message.media_verdict is not None:
            await hooks.media_verdict(conn, message.media_verdict)
            return
        message_id = await conn.fetchval(
            q.INSERT_MESSAGE, message.msg_key, message.openid, message.msg_type, message.content
        )
        if message_id is not None and message.msg_type == "text":
            await enqueue(conn, REPLY_KIND, {"message_id": message_id}, max_attempts=6)


async def forget_push_seals(pool: asyncpg.Pool) -> None:
    await pool.execute(q.FORGET_SEALS)


async def answer_customer_message(pool: asyncpg.Pool, settings: Settings, wechat: Any, message_id: int) -> str:
    """Answer one pushed customer-service message (a job; idempotent: the decision is stored with the
    message, a retried send reuses it). Returns the message's final status."""
    appid = settings.wechat_credentials[0]
    async with pool.acquire() as conn, conn.transaction():
        message = await conn.fetchrow(q.LOCK_MESSAGE, message_id, appid)
        if message is None or message["status"] != "received":
            return message["status"] if message else "missing"
        rule_id = message["rule_id"]
        if rule_id is None:
            community_id = settings.customer_service_community_id
            rule = None
            if community_id is not None and message["msg_type"] == "text":
                member = f"user:{message['user_id']}" if message["user_id"] else f"openid:{message['openid']}"
                rule = await choose_rule(conn, community_id, member, message["content"])
            if rule is None:
                await conn.execute(q.FINISH_MESSAGE, message_id, "no_match")
                return "no_match"
            rule_id = rule["id"]
            await conn.execute(q.SET_MESSAGE_RULE, message_id, rule_id)
        reply = await conn.fetchrow(q.RULE_REPLY, rule_id, settings.customer_service_community_id)
        if reply is None:  # the rule stopped answering since it was chosen (this is a retry): nothing to send
            await conn.execute(q.FINISH_MESSAGE, message_id, "no_match")
            return "no_match"
    # Sent with no connection held; WeChatUnavailable propagates and the job is retried with the same rule.
    try:
        await wechat.send_custom_text(message["openid"], reply["reply"])
        status = "replied"
    except WeChatUnavailable:
        raise
    except Problem as exc:  # WeChat refused (e.g. 45015: the 48-hour window to answer has passed)
        log.warning("customer-service reply refused", extra={"messageId": message_id, "code": exc.code})
        status = "failed"
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(q.FINISH_MESSAGE, message_id, status)
        if status == "replied":
            await conn.execute(q.INSERT_SERVICE_REPLY, rule_id, reply["community_id"], message["user_id"], message_id)
    return status


async def on_community_opened(conn: asyncpg.Connection, event: hooks.CommunityOpened) -> None:
    """A sister community answers like its template; a community attached to a brand adds the brand's rules."""
    await conn.execute(q.LOCK_RULES_OF, event.community_id)
    if event.source_id is not None:
        await conn.execute(q.COPY_RULES, event.community_id, event.source_id, event.actor_id)
    if event.robot_rules:
        columns = [[rule[name] for rule in event.robot_rules] for name in ("keyword", "matchMode", "reply")]
        room = max(0, MAX_RULES - await conn.fetchval(q.COUNT_RULES, event.community_id))
        await conn.execute(q.ADD_DEFAULT_RULES, event.community_id, event.actor_id, *columns, room)
