"""The rules of community apps: the owner's switch, the operator's prices, paying for an app.

An app is on in a community when the owner's switch is on (the default) and the app is free, bought once, or
paid up to a date in the future: SQL function `community_app_active`, the one definition routes and jobs use.
A payment (checkout purpose 'app') switches the app on and adds a month (monthly) or buys it for good
(one-off), also when the operator made the app free after the order was opened (the price was accepted). One
that buys nothing (the payer no longer the owner, the app already bought for good) is refused and refunded.
An app enabled while it was free needs paying once the operator prices it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from litestar import Response

from service.apps import models as m
from service.apps import queries as q
from service.core import money as checkout
from service.core.access import require_admin, require_member, require_owner
from service.core.apps import APP_STATES, APPS, app_state
from service.core.inbox import Item, deliver
from service.core.messaging import send_once, thing
from service.core.money.purposes import PaidOrder, Purpose, RefundInfo, Refuse
from service.core.rows import claim_each, lock_in_community
from service.errors import Problem
from service.settings import Settings
from service.wechat.client import WeChatClient
from service.wechat.pay import WeChatPay

PURPOSE = "app"


def _now() -> datetime:
    return datetime.now(UTC)


def _view(row: asyncpg.Record, now: datetime) -> m.CommunityApp:
    name, description = APPS[row["app"]]
    return m.CommunityApp(
        app=row["app"],
        name=name,
        description=description,
        state=app_state(row, now),
        billing=row["billing"] or "free",
        price_fen=row["price_fen"],
        purchased=row["purchased"],
        paid_until=row["paid_until"],
    )


async def _states(conn: asyncpg.Connection, community_id: int, apps: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(APP_STATES, community_id, apps)


# --- reading -------------------------------------------------------------------------------------------------


async def catalogue(conn: asyncpg.Connection) -> m.Catalogue:
    prices = {row["app"]: row for row in await conn.fetch(q.PRICES)}
    items = []
    for app, (name, description) in APPS.items():
        price = prices.get(app)
        items.append(
            m.CatalogueApp(
                app=app,
                name=name,
                description=description,
                billing=price["billing"] if price else "free",
                price_fen=price["price_fen"] if price else None,
            )
        )
    return m.Catalogue(items=items)


async def community_apps(
    conn: asyncpg.Connection, community_id: int, user_id: int, include_all: bool
) -> m.CommunityAppList:
    """Members see the apps that are on; owners and admins may ask for every app with its state."""
    if include_all:
        await require_admin(conn, community_id, user_id)
    else:
        await require_member(conn, community_id, user_id)
    now = _now()
    views = [_view(row, now) for row in await _states(conn, community_id, list(APPS))]
    return m.CommunityAppList(items=views if include_all else [v for v in views if v.state == "enabled"])


# --- the owner's switch and payments ---------------------------------------------------------------------------


def _json(status: int, body: msgspec.Struct) -> Response[bytes]:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


async def enable(
    pool: asyncpg.Pool,
    pay: WeChatPay,
    settings: Settings,
    community_id: int,
    user_id: int,
    app: str,
    key: str | None,
) -> Response[bytes]:
    """Switch the app on: 200 when it is free or paid up; else 202 with the order that pays for it (the app
    comes on when the payment arrives). Asking again returns the same payable order."""
    async with pool.acquire() as conn, conn.transaction():
        await require_owner(conn, community_id, user_id)
        await conn.execute(q.SWITCH, community_id, app, True, user_id)
        (row,) = await _states(conn, community_id, [app])
    view = _view(row, _now())
    if view.state == "enabled":
        return _json(200, m.AppCheckout(app=view))
    return await _checkout(pool, pay, settings, community_id, user_id, row, key)


async def renew(
    pool: asyncpg.Pool,
    pay: WeChatPay,
    settings: Settings,
    community_id: int,
    user_id: int,
    app: str,
    key: str | None,
) -> Response[bytes]:
    """Pay one more month of a monthly app ahead of its end (202 with the order); not for an app bought for good."""
    async with pool.acquire() as conn, conn.transaction():
        await require_owner(conn, community_id, user_id)
        (row,) = await _states(conn, community_id, [app])
        if row["billing"] != "monthly":
            raise Problem("app_not_renewable", f"{app} is {(row['billing'] or 'free').replace('_', '-')}")
        # Bought one-off before a monthly price: it stays on for good, a month more would buy nothing.
        if row["purchased"]:
            raise Problem("app_not_renewable", f"{app} is bought for good")
        if row["community_app_id"] is None:
            await conn.execute(q.SWITCH, community_id, app, True, user_id)
            (row,) = await _states(conn, community_id, [app])
    return await _checkout(pool, pay, settings, community_id, user_id, row, key)


async def _checkout(
    pool: asyncpg.Pool,
    pay: WeChatPay,
    settings: Settings,
    community_id: int,
    user_id: int,
    row: asyncpg.Record,
    key: str | None,
) -> Response[bytes]:
    name = APPS[row["app"]][0]
    result = await checkout.create_order(
        pool,
        pay,
        settings,
        payer_user_id=user_id,
        purpose=PURPOSE,
        subject_id=row["community_app_id"],
        community_id=community_id,
        amount_fen=row["price_fen"],
        description=f"社区应用：{name}",
        idempotency_key=key,
    )
    if result.order.purpose != PURPOSE or result.order.subject_id != str(row["community_app_id"]):
        raise Problem("idempotency_key_reused", "this Idempotency-Key paid for something else")
    async with pool.acquire() as conn:
        await conn.execute(
            q.RECORD_PURCHASE, int(result.order.id), row["community_app_id"], row["billing"], row["price_fen"]
        )
    return _json(202, m.AppCheckout(app=_view(row, _now()), order=result.order))


async def disable(conn: asyncpg.Connection, community_id: int, user_id: int, app: str) -> None:
    """Switch the app off; what was paid stays paid (switching it on again within the period is free)."""
    async with conn.transaction():
        await require_owner(conn, community_id, user_id)
        await conn.execute(q.SWITCH, community_id, app, False, user_id)


# --- the operator's prices -------------------------------------------------------------------------------------


async def set_price(conn: asyncpg.Connection, app: str, data: m.AppPrice) -> m.CatalogueApp:
    await conn.execute(q.SET_PRICE, app, data.billing, data.price_fen)
    name, description = APPS[app]
    return m.CatalogueApp(app=app, name=name, description=description, billing=data.billing, price_fen=data.price_fen)


async def clear_price(conn: asyncpg.Connection, app: str) -> None:
    """The app becomes free: it is on again wherever the owner's switch is on."""
    await conn.execute(q.CLEAR_PRICE, app)


# --- the checkout purpose ---------------------------------------------------------------------------------------


async def _lock(conn: asyncpg.Connection, community_app_id: int | None) -> asyncpg.Record | None:
    """The community app, locked (None when there is none)."""
    return await lock_in_community(conn, q.COMMUNITY_OF_APP, q.LOCK_COMMUNITY_APP, community_app_id)


async def _on_paid(conn: asyncpg.Connection, order: PaidOrder) -> Refuse | None:
    """Grant what the order bought, or refuse (refunded in full) a payment that can buy nothing any more. The
    community app's lock serialises every payment of the app, so each sees what the one before granted."""
    row = await _lock(conn, order.subject_id)
    if row is None:
        return Refuse("app_unknown", "no such community app")
    # An owner's order stays payable after the ownership changed: only the owner at payment buys for the community.
    if not await conn.fetchval(q.PAYER_IS_OWNER, row["community_id"], order.payer_user_id):
        return Refuse("payer_not_owner", "the payer is no longer the community's owner")
    # Bought for good meanwhile (another owner's order, a reprice): neither a second purchase nor a month adds anything.
    if row["purchased"]:
        return Refuse("app_already_bought", "the community owns the app for good")
    purchase = await conn.fetchrow(q.PURCHASE, order.id)
    if purchase is not None:
        billing = purchase["billing"]
    else:  # paid before the purchase row was written: the price of now (the order's amount matches it)
        billing = await conn.fetchval(q.BILLING_OF, row["app"]) or "monthly"
    if billing == "one_off":
        await conn.execute(q.GRANT_ONE_OFF, row["id"])
    else:
        await conn.execute(q.GRANT_MONTH, row["community_id"], row["id"], row["paid_until"])
    await conn.execute(q.APPLY_PURCHASE, order.id, row["id"], billing, order.amount_fen)
    return None


async def _on_refund(conn: asyncpg.Connection, order: PaidOrder, refund: RefundInfo) -> None:
    """An admin refund of an app purchase takes back what it bought."""
    row = await _lock(conn, order.subject_id)
    purchase = await conn.fetchrow(q.PURCHASE, order.id)
    if row is None or purchase is None:
        return
    if purchase["billing"] == "one_off":
        await conn.execute(q.REVOKE_ONE_OFF, row["id"])
    else:
        await conn.execute(q.REVOKE_MONTH, row["community_id"], row["id"], row["paid_until"])


async def _no_payer_refunds(conn: asyncpg.Connection, order: PaidOrder) -> None:
    return None  # an app purchase is refunded by the platform, not by the payer


# What a payment of this purpose means (declared by the domain; see service/core/money/purposes.py).
APP_PURPOSE = Purpose(PURPOSE, on_paid=_on_paid, on_refund=_on_refund, payer_refund_window=_no_payer_refunds)


# --- expiry reminders ---------------------------------------------------------------------------------------------


async def send_expiry_reminders(pool: asyncpg.Pool, wechat: WeChatClient, settings: Settings, batch: int = 100) -> int:
    """Remind owners of monthly apps ending within APPS_EXPIRY_REMINDER_LEAD, once per paid period; returns how
    many reminders were claimed. Each is claimed (committed) before it is sent, so none goes out twice."""
    async with pool.acquire() as conn, conn.transaction():
        due = await conn.fetch(q.DUE_EXPIRY_REMINDERS, float(settings.apps_expiry_reminder_lead), batch)
        claimed = await claim_each(conn, due, q.CLAIM_EXPIRY_REMINDER)
        contacts = [await conn.fetchrow(q.OWNER_CONTACT, row["community_id"]) for row in claimed]
        for row, contact in zip(claimed, contacts, strict=True):
            data = {"app": row["app"], "appName": APPS[row["app"]][0], "endsAt": row["paid_until"].isoformat()}
            ending = Item(
                contact["owner_id"], "app_expiring", "community", row["community_id"], row["community_id"], data=data
            )
            await deliver(conn, ending)
    for row, contact in zip(claimed, contacts, strict=True):
        local_end = row["paid_until"].astimezone(ZoneInfo(contact["timezone"]))
        data = {
            "thing1": thing(APPS[row["app"]][0]),
            "time2": local_end.strftime("%Y-%m-%d %H:%M"),
            "thing3": thing(contact["community_name"]),
        }
        page = f"pages/community/apps?communityId={row['community_id']}"
        result = await send_once(wechat, contact["openid"], settings.apps_expiry_template_id, data, page=page)
        await pool.execute(q.SET_REMINDER_RESULT, row["id"], result)
    return len(claimed)
