"""Login, session and profile routes: HTTP only; the rules are in logic.py."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import State
from litestar.params import JSONBody

from service.auth import deletion, logic
from service.auth.models import (
    Deletion,
    LoginRequest,
    LoginResult,
    Me,
    PhoneRequest,
    ProfileUpdate,
    RefreshRequest,
    SessionInfo,
    Tokens,
)
from service.auth.problems import PROBLEMS
from service.core.addresses import client_address
from service.core.deps import AppSettings, Db, WeChat
from service.core.guard import BEARER_SECURITY, CurrentUser
from service.core.privacy import AccountExport

TOKEN_ERRORS = ("unauthorized", "token_expired")
WECHAT_ERRORS = ("wechat_unavailable", "wechat_error")


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post(
        "/login",
        status_code=200,
        operation_id="login",
        summary="Log in with a wx.login code",
        description=(
            "Exchanges the code from `wx.login` for an access token (send it as `Authorization: Bearer`) and a "
            "refresh token. The first login creates the member. Rate limited per client address and per code. A login "
            "during an account's deletion cooling-off cancels the deletion (`deletionCancelled`)."
        ),
        responses=PROBLEMS.responses("invalid_code", "code_used", "rate_limited", *WECHAT_ERRORS),
    )
    async def login(
        self, data: JSONBody[LoginRequest], request: Request, state: State, settings: AppSettings, wechat: WeChat
    ) -> LoginResult:
        address = client_address(request, settings)
        return await logic.login(state.pool, wechat, state.session_keys, settings, data.code, address)

    @post(
        "/refresh",
        status_code=200,
        operation_id="refreshSession",
        summary="Exchange a refresh token for a new token pair",
        description=(
            "Each refresh token works once: the answer carries its successor. Presenting a spent refresh token "
            "again revokes the whole session (`refresh_token_reused`), so refresh from one place at a time."
        ),
        responses=PROBLEMS.responses("invalid_refresh_token", "refresh_token_reused"),
    )
    async def refresh(self, data: JSONBody[RefreshRequest], db: Db, settings: AppSettings) -> Tokens:
        return await logic.refresh(db, settings, data.refresh_token)

    @post(
        "/logout",
        status_code=204,
        operation_id="logout",
        summary="Revoke the session of a refresh token",
        description=(
            "Revokes the refresh token and every token of its session; idempotent. Access tokens are not stored: "
            "an issued one stays valid until it expires (at most ACCESS_TOKEN_TTL seconds), so drop it."
        ),
        responses=PROBLEMS.responses(),
    )
    async def logout(self, data: JSONBody[RefreshRequest], db: Db) -> None:
        await logic.logout(db, data.refresh_token)

    @post(
        "/phone",
        status_code=200,
        operation_id="bindPhone",
        summary="Bind the phone number behind a getPhoneNumber code",
        description=(
            "Send the `code` of the getPhoneNumber button's event (single use, 5 minutes). The number WeChat gives is "
            "stored as E.164 (`+8613800138000`), replacing an earlier one. `phone_code_invalid` (expired, used or "
            "unknown): have the member tap the button again; the session is fine. PHONE_BINDS_PER_HOUR (10) attempts "
            "per member an hour, failed ones too (429 `rate_limited` with Retry-After)."
        ),
        responses=PROBLEMS.responses(*TOKEN_ERRORS, "phone_code_invalid", "rate_limited", *WECHAT_ERRORS),
        security=BEARER_SECURITY,
    )
    async def bind_phone(
        self, data: JSONBody[PhoneRequest], caller: CurrentUser, state: State, settings: AppSettings, wechat: WeChat
    ) -> Me:
        return await logic.bind_phone(state.pool, wechat, settings, caller.id, data.code)

    @get(
        "/session",
        operation_id="getSession",
        summary="The session behind the access token",
        description="Checks the access token without touching the database: who it names and when it expires.",
        responses=PROBLEMS.responses(*TOKEN_ERRORS),
        security=BEARER_SECURITY,
    )
    async def session(self, caller: CurrentUser) -> SessionInfo:
        return logic.session_info(caller)


class MeController(Controller):
    path = "/me"
    tags = ["me"]

    @get(
        operation_id="getMe",
        summary="My profile",
        responses=PROBLEMS.responses(*TOKEN_ERRORS),
        security=BEARER_SECURITY,
    )
    async def get_me(self, user: CurrentUser, db: Db) -> Me:
        return await logic.get_me(db, user.id)

    @put(
        operation_id="updateMe",
        summary="Edit my nickname or avatar (an uploaded photo)",
        description=(
            "The nickname passes WeChat's content-safety check (scene: profile). The avatar: `avatarMediaId`, one of "
            "my uploads (`wx.chooseAvatar` -> `wx.uploadFile` with purpose `avatar`); `avatarUrl` becomes its public "
            "link, which shows the photo once WeChat approved it. `avatarUrl` is no longer taken (400 naming it)."
        ),
        responses=PROBLEMS.responses(
            *TOKEN_ERRORS, "content_rejected", "media_rejected", "wechat_session_stale", "rate_limited", *WECHAT_ERRORS
        ),
        security=BEARER_SECURITY,
    )
    async def update_me(self, data: JSONBody[ProfileUpdate], caller: CurrentUser, state: State, wechat: WeChat) -> Me:
        return await logic.update_me(state.pool, wechat, caller.id, data, state.settings.public_base_url)

    @delete(
        status_code=202,
        operation_id="deleteMe",
        summary="Delete my account (注销), after a cooling-off period",
        description=(
            "Starts the deletion: the account is erased ACCOUNT_DELETION_DAYS (7) days later, at `dueAt`. Every "
            "session ends now (refresh tokens are revoked); logging in again before `dueAt` cancels the deletion. "
            "Repeating the call answers the same deletion. An owner must first transfer each community "
            "(`owner_must_transfer`, `detail` names one). What is erased and what stays: docs/privacy.md."
        ),
        responses=PROBLEMS.responses(*TOKEN_ERRORS, "owner_must_transfer"),
        security=BEARER_SECURITY,
    )
    async def delete_me(self, user: CurrentUser, db: Db, settings: AppSettings) -> Deletion:
        return await deletion.request(db, settings, user.id)

    @get(
        "/deletion",
        operation_id="getMyDeletion",
        summary="My account's pending deletion, if any",
        responses=PROBLEMS.responses(*TOKEN_ERRORS),
        security=BEARER_SECURITY,
    )
    async def get_deletion(self, user: CurrentUser, db: Db) -> Deletion:
        return await deletion.status(db, user.id)

    @get(
        "/export",
        operation_id="exportMe",
        summary="A copy of my data",
        description=(
            "Everything the service holds about me, as JSON: profile, memberships and join requests, posts, comments, "
            "likes, votes and proposals, free trials, check-ins, meetup sign-ups, orders and refunds, collections, "
            "rewards and transfers, reports I made, notifications, uploads. Of others only what I could see. "
            "EXPORT_RATE_PER_DAY (3) exports per day."
        ),
        responses=PROBLEMS.responses(*TOKEN_ERRORS, "rate_limited"),
        security=BEARER_SECURITY,
    )
    async def export_me(self, user: CurrentUser, db: Db, settings: AppSettings) -> AccountExport:
        return await deletion.export(db, settings, user.id)
