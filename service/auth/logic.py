"""The rules of login and sessions.

- A member is identified by (appid, openid); the first login creates them, later ones update the sealed
  session_key (every wx.login replaces it) and keep a unionid once WeChat gave one.
- Access tokens are short-lived and stateless (tokens.py); refresh tokens are random, stored as SHA-256,
  and rotate on every use within a family (one login). A used token presented again means it was copied:
  the whole family is revoked and the member must log in again.
- Refreshes and revocations (logout, reuse, the deletion request) of one member take the member's users row
  first (queries.LOCK_SESSIONS), so a token minted by a refresh in flight is never missed by a revocation.
- Calls to WeChat hold no database connection, so a slow WeChat cannot drain the pool.
- The sealed session_key is opened again only by service/core/open_data.py, for the domains that accept a
  member's WeChat open data (the group a share was opened in): the key itself never leaves auth and the core.
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from service.auth import deletion, queries
from service.auth.models import LoginResult, Me, ProfileUpdate, SessionInfo, Tokens
from service.core import ratelimit
from service.core.addresses import subscriber
from service.core.content import openid_of
from service.core.guard import Caller
from service.core.media import claim_public_image
from service.core.rows import from_row
from service.core.tokens import issue_access_token
from service.errors import Problem
from service.settings import Settings
from service.wechat.client import WeChatClient
from service.wechat.errors import (
    CONTENT_REJECTED,
    WECHAT_SESSION_STALE,
    WeChatError,
    WeChatUnavailable,
)
from service.wechat.sealing import SessionKeySealer

log = logging.getLogger("service.auth")

INVALID_REFRESH_TOKEN = "invalid_refresh_token"
REFRESH_TOKEN_REUSED = "refresh_token_reused"
PROFILE_SCENE = 1  # msg_sec_check scene for profile text
NOT_VISITED_RECENTLY = 61010
PRUNE_PROBABILITY = 0.01


def _row_to_me(row: asyncpg.Record) -> Me:
    return from_row(Me, row, phone_number=row["phone"])


def _digest(refresh_token: str) -> bytes:
    # A refresh token carries 256 random bits: a plain SHA-256 is enough, no slow hash needed.
    return hashlib.sha256(refresh_token.encode()).digest()


async def _issue(conn: asyncpg.Connection, settings: Settings, user_id: int, family_id: uuid.UUID) -> Tokens:
    refresh_token = secrets.token_urlsafe(32)
    await conn.execute(
        queries.INSERT_REFRESH_TOKEN, user_id, family_id, _digest(refresh_token), settings.refresh_token_ttl
    )
    return Tokens(
        access_token=issue_access_token(settings, user_id),
        expires_in=settings.access_token_ttl,
        refresh_token=refresh_token,
        refresh_expires_in=settings.refresh_token_ttl,
    )


def _address_bucket(client_address: str) -> str:
    return f"login:address:{subscriber(client_address)}"


async def enforce_login_limits(conn: asyncpg.Connection, settings: Settings, code: str, client_address: str) -> None:
    """Fixed windows per client address and per code; over either answers 429 with Retry-After.

    Both are charged before WeChat is asked (concurrent guesses cannot slip past the count, and a flood never
    reaches WeChat's own quota); a login that succeeds gives its address hit back, so the address limit counts
    failed attempts only and many members behind one NAT address are not locked out by each other."""
    limits = {
        _address_bucket(client_address): settings.login_rate_per_address,
        f"login:code:{hashlib.sha256(code.encode()).hexdigest()[:32]}": settings.login_rate_per_code,
    }
    await ratelimit.hit(conn, limits, settings.login_rate_window, "too many login attempts")


async def prune(conn: asyncpg.Connection) -> None:
    """Drop expired refresh tokens and finished rate-limit windows (also fit for a periodic job)."""
    await conn.execute(queries.DELETE_EXPIRED_REFRESH_TOKENS)
    await conn.execute(ratelimit.STALE)


async def login(
    pool: asyncpg.Pool,
    wechat: WeChatClient,
    sealer: SessionKeySealer,
    settings: Settings,
    code: str,
    client_address: str,
) -> LoginResult:
    async with pool.acquire() as conn:
        await enforce_login_limits(conn, settings, code, client_address)
    try:
        session = await wechat.code_to_session(code)
    except WeChatUnavailable:
        # No guess was judged: an outage must not lock members behind one NAT address out once it is over.
        async with pool.acquire() as conn:
            await ratelimit.refund(conn, _address_bucket(client_address))
        raise
    sealed = sealer.seal(session.session_key, appid=wechat.appid, openid=session.openid)
    async with pool.acquire() as conn:
        async with conn.transaction():
            row = await conn.fetchrow(
                queries.UPSERT_USER_ON_LOGIN, wechat.appid, session.openid, session.unionid, sealed
            )
            tokens = await _issue(conn, settings, row["id"], uuid.uuid4())
            cancelled = await deletion.cancel_on_login(conn, row["id"])
        await ratelimit.refund(conn, _address_bucket(client_address))
        if random.random() < PRUNE_PROBABILITY:  # noqa: S311 - not security relevant
            await prune(conn)
    log.info("login", extra={"userId": row["id"], "newUser": row["created"], "deletionCancelled": cancelled})
    return LoginResult(**_fields(tokens), user=_row_to_me(row), new_user=row["created"], deletion_cancelled=cancelled)


def _fields(tokens: Tokens) -> dict[str, Any]:
    return {name: getattr(tokens, name) for name in Tokens.__struct_fields__}


async def refresh(conn: asyncpg.Connection, settings: Settings, refresh_token: str) -> Tokens:
    """Exchange a refresh token for a new pair; the old one is spent."""
    async with conn.transaction():
        digest = _digest(refresh_token)
        user_id = await _lock_sessions_of(conn, digest)
        row = None if user_id is None else await conn.fetchrow(queries.SELECT_REFRESH_TOKEN_FOR_UPDATE, digest, user_id)
        if row is not None and not (row["revoked"] or row["expired"] or row["used"]):
            await conn.execute(queries.MARK_REFRESH_TOKEN_USED, row["id"])
            return await _issue(conn, settings, row["user_id"], row["family_id"])
        reused = row is not None and row["used"] and not row["revoked"]
        if reused:
            await conn.execute(queries.REVOKE_FAMILY, row["family_id"], row["user_id"])
    if reused:
        log.warning("refresh token reused: session revoked", extra={"userId": row["user_id"]})
        raise Problem(REFRESH_TOKEN_REUSED)
    raise Problem(INVALID_REFRESH_TOKEN)


async def logout(conn: asyncpg.Connection, refresh_token: str) -> None:
    """Revoke the session (token family) of this refresh token; unknown tokens are a no-op (idempotent)."""
    digest = _digest(refresh_token)
    async with conn.transaction():
        if (user_id := await _lock_sessions_of(conn, digest)) is not None:
            await conn.execute(queries.REVOKE_FAMILY_OF_TOKEN, digest, user_id)


async def _lock_sessions_of(conn: asyncpg.Connection, digest: bytes) -> int | None:
    """The member of a refresh token, their sessions locked (queries.LOCK_SESSIONS); None for an unknown token."""
    user_id = await conn.fetchval(queries.REFRESH_TOKEN_USER, digest)
    if user_id is not None:
        await conn.execute(queries.LOCK_SESSIONS, user_id)
    return user_id


def session_info(user: Caller) -> SessionInfo:
    return SessionInfo(user_id=str(user.id), expires_at=datetime.fromtimestamp(user.token_expires_at, UTC))


async def get_me(conn: asyncpg.Connection, user_id: int) -> Me:
    row = await conn.fetchrow(queries.SELECT_ME, user_id)
    if row is None:
        raise Problem("unauthorized", "this account no longer exists")
    return _row_to_me(row)


async def bind_phone(pool: asyncpg.Pool, wechat: WeChatClient, settings: Settings, user_id: int, code: str) -> Me:
    # WeChat charges per getPhoneNumber call: every attempt counts, and a refused one is never sent.
    limit = settings.phone_binds_per_hour
    async with pool.acquire() as conn:
        await ratelimit.hit(conn, {f"phone-bind:{user_id}": limit}, 3600, f"at most {limit} phone bindings an hour")
    phone = await wechat.phone_number(code)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(queries.SET_PHONE, user_id, f"+{phone.country_code}{phone.pure_phone_number}")
    if row is None:
        raise Problem("unauthorized", "this account no longer exists")
    return _row_to_me(row)


async def update_me(
    pool: asyncpg.Pool, wechat: WeChatClient, user_id: int, update: ProfileUpdate, public_base_url: str
) -> Me:
    if update.nickname is not None:
        async with pool.acquire() as conn:
            openid = await openid_of(conn, user_id)
        try:
            verdict = await wechat.check_text(openid, PROFILE_SCENE, update.nickname)
        except WeChatError as exc:
            if exc.errcode == NOT_VISITED_RECENTLY:
                raise Problem(WECHAT_SESSION_STALE) from None
            raise
        # "review" is let through for a nickname: there is no pending state to hold it in.
        if verdict.suggest == "risky":
            raise Problem(CONTENT_REJECTED, f"the nickname was rejected (label {verdict.label})", label=verdict.label)
    async with pool.acquire() as conn, conn.transaction():
        avatar_url = None
        if update.avatar_media_id is not None:
            media_id = int(update.avatar_media_id)
            avatar_url = await claim_public_image(conn, user_id, media_id, "avatarMediaId", public_base_url, "avatar")
        row = await conn.fetchrow(queries.UPDATE_PROFILE, user_id, update.nickname, avatar_url)
    if row is None:
        raise Problem("unauthorized", "this account no longer exists")
    return _row_to_me(row)
