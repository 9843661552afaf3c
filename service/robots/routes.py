"""HTTP routes of robots: keyword rules (admins) and WeChat's customer-service message push."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

from service.core.deps import Db, WeChat
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.ids import PathId
from service.core.paging import Cursor, Limit
from service.errors import Problem
from service.robots import logic, push
from service.robots import models as m
from service.robots.problems import PROBLEMS

log = logging.getLogger("service.robots")


TAG = "robots"
AUTH = ("unauthorized", "token_expired")
ADMIN = (*AUTH, "not_found", "not_member", "forbidden")
CHECKED = ("content_rejected", "wechat_session_stale", "wechat_unavailable", "wechat_error", "rate_limited")
# WeChat waits 5 seconds for an answer; storing the message must finish well within that.
PUSH_BUDGET = 3.0

Signature = Annotated[str | None, QueryParameter(name="signature", max_length=64, description="sha1 signature")]
Timestamp = Annotated[str | None, QueryParameter(name="timestamp", max_length=20)]
Nonce = Annotated[str | None, QueryParameter(name="nonce", max_length=64)]


class RobotRulesController(Controller):
    path = "/communities/{community_id:str}/robot-rules"
    tags = [TAG]
    security = BEARER_SECURITY

    @get(
        "",
        operation_id="listRobotRules",
        summary="The community's keyword auto-reply rules, in the order they are tried (admins)",
        description="`app_disabled` while the robots app is off; its rules then answer nothing.",
        responses=PROBLEMS.responses(*ADMIN, "app_disabled"),
    )
    async def list_rules(
        self, community_id: PathId, user: CurrentUser, db: Db, limit: Limit = 50, cursor: Cursor = None
    ) -> m.RulePage:
        return await logic.list_rules(db, community_id, user.id, limit, cursor)

    @post(
        "",
        operation_id="createRobotRule",
        summary="Add a keyword auto-reply rule (admins); its reply must pass WeChat's content check",
        description=(
            "Match modes: `exact` (the whole text), `contains`, `regex` (at most 100 characters; a pattern that "
            "backtracks catastrophically, or whose nested counted repeats multiply beyond 1,000, is refused). "
            "The first enabled rule that matches a member's visible post "
            "or comment, and has not answered that member within `cooldownSeconds`, answers with a robot comment."
        ),
        status_code=201,
        responses=PROBLEMS.responses(*ADMIN, "app_disabled", "too_many_rules", *CHECKED),
    )
    async def create_rule(
        self, community_id: PathId, data: JSONBody[m.RuleCreate], caller: CurrentUser, state: State, wechat: WeChat
    ) -> m.Rule:
        return await logic.create_rule(state.pool, wechat, community_id, caller.id, data)


class RobotRuleController(Controller):
    path = "/robot-rules/{rule_id:str}"
    tags = [TAG]
    security = BEARER_SECURITY

    @put(
        "",
        operation_id="updateRobotRule",
        summary="Change a keyword rule: keyword, mode, reply, enabled, cooldown (admins)",
        description=(
            "Only the fields sent change; the keyword is validated again against the match mode. A changed reply must "
            "pass WeChat's content check outright, since the robot posts it; while WeChat cannot check it the change "
            "answers 503 `wechat_unavailable`."
        ),
        responses=PROBLEMS.responses(*ADMIN, "app_disabled", *CHECKED),
    )
    async def update_rule(
        self, rule_id: PathId, data: JSONBody[m.RuleUpdate], caller: CurrentUser, state: State, wechat: WeChat
    ) -> m.Rule:
        return await logic.update_rule(state.pool, wechat, rule_id, caller.id, data)

    @delete(
        "",
        operation_id="deleteRobotRule",
        summary="Delete a keyword rule (admins)",
        description="Soft: the rule stops answering at once. `app_disabled` while the robots app is off.",
        responses=PROBLEMS.responses(*ADMIN, "app_disabled"),
    )
    async def delete_rule(self, rule_id: PathId, user: CurrentUser, db: Db) -> None:
        await logic.delete_rule(db, rule_id, user.id)


class WeChatMessagesController(Controller):
    path = "/wechat/messages"
    tags = [TAG]

    @get(
        "",
        operation_id="verifyWeChatMessagePush",
        summary="WeChat's server verification: answers echostr when the signature is ours",
        description=(
            "Called by WeChat when the push URL is configured, never by the mini program. `signature` must be the "
            "SHA-1 of the token, `timestamp` and `nonce`, with the timestamp within 5 minutes; then `echostr` comes "
            "back as plain text, else 403 `invalid_signature`."
        ),
        media_type="text/plain",
        responses=PROBLEMS.responses("invalid_signature"),
    )
    async def verify(
        self,
        state: State,
        signature: Signature = None,
        timestamp: Timestamp = None,
        nonce: Nonce = None,
        echostr: Annotated[str | None, QueryParameter(name="echostr", max_length=200)] = None,
    ) -> str:
        try:
            push.verify(
                state.settings, {"signature": signature or "", "timestamp": timestamp or "", "nonce": nonce or ""}
            )
        except push.ForgedPush as exc:
            raise Problem("invalid_signature", str(exc)) from None
        return echostr or ""

    @post(
        "",
        operation_id="receiveWeChatMessage",
        summary="WeChat's customer-service message push (plain or safe mode): answered `success` at once",
        description=(
            "Verifies `signature` (and `msg_signature` with the EncodingAESKey in safe mode), stores the message "
            "once (WeChat retries), and answers `success` within WeChat's 5 seconds; when the message cannot be "
            "stored in time it answers 503 at once, so WeChat pushes it again. A signed query is good for one body "
            "only: the same body again is WeChat's retry, another one 403 `invalid_signature`. The keyword robot "
            "answers through the customer-service send API from a job."
        ),
        media_type="text/plain",
        status_code=200,
        responses=PROBLEMS.responses("invalid_signature", "not_ready", "payload_too_large"),
    )
    async def receive(self, request: Request, state: State) -> Response[str]:
        body = await request.body()
        try:
            message = push.open_message(state.settings, request.query_params, body)
        except push.ForgedPush as exc:
            raise Problem("invalid_signature", str(exc)) from None
        if message is not None:
            try:
                async with asyncio.timeout(PUSH_BUDGET):
                    await logic.receive_customer_message(state.pool, message)
            except push.ForgedPush as exc:  # the signed query came with another body before
                raise Problem("invalid_signature", str(exc)) from None
            except Exception:
                # Still inside WeChat's 5 seconds: a quick refusal makes WeChat push the message again (it retries
                # three times), where `success` would lose it. The message is stored once whichever push lands.
                log.exception("customer-service message not stored", extra={"msgKey": message.msg_key})
                raise Problem("not_ready", "the message could not be stored: WeChat will push it again") from None
        return Response("success", media_type="text/plain")


CONTROLLERS = [RobotRulesController, RobotRuleController, WeChatMessagesController]
