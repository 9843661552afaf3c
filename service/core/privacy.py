"""A member's rights over their data (docs/privacy.md): a copy of it (`GET /v1/me/export`) and its erasure when the
account is deleted (注销). Each domain erases and exports the rows it holds, in its own `privacy.py`, and declares
them (`Domain.privacy`): `erases` the tables it cleans, `keeps` those whose rows stay under the tombstone's
pseudonymous id (bookkeeping: money, audit, counts). tests/test_account_deletion.py refuses a table with a user
column that no domain names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Annotated

import asyncpg
import msgspec
import msgspec.inspect
from msgspec import Meta

from service.core.rows import from_row

# What the tombstone shows where the member's name was (posts, comments, member lists).
ERASED_NICKNAME = "已注销用户"


class _Row(msgspec.Struct, rename="camel", kw_only=True):
    pass


class ExportedProfile(_Row):
    id: str
    openid: Annotated[str, Meta(examples=["oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"])]
    unionid: Annotated[str | None, Meta(examples=["oGZUI0egBJY1zhBYw2KhdUfwVJJE"])]
    nickname: str
    avatar_url: Annotated[str, Meta(examples=["https://api.example.com/v1/media/public/8812"])]
    phone_number: str | None
    created_at: datetime
    last_login_at: datetime | None


class ExportedMembership(_Row):
    community_id: str
    community_name: Annotated[str, Meta(examples=["晨跑俱乐部"])]
    role: Annotated[str, Meta(examples=["member"])]
    status: Annotated[str, Meta(examples=["active"])]
    via: Annotated[str | None, Meta(examples=["free"])]
    joined_at: datetime
    left_at: datetime | None


class ExportedJoinRequest(_Row):
    id: str
    community_id: str
    message: str | None
    status: Annotated[str, Meta(examples=["pending"])]
    reason: str | None
    created_at: datetime


class ExportedPost(_Row):
    id: str
    community_id: str
    kind: Annotated[str, Meta(examples=["post"])]
    text: str
    image_urls: list[Annotated[str, Meta(examples=["https://cdn.example.com/p/1.jpg"])]]
    status: Annotated[str, Meta(examples=["visible"])]
    created_at: datetime
    deleted_at: datetime | None


class ExportedComment(_Row):
    id: str
    post_id: str
    community_id: str
    parent_id: str | None
    text: str
    status: Annotated[str, Meta(examples=["visible"])]
    created_at: datetime
    deleted_at: datetime | None


class ExportedLike(_Row):
    post_id: str
    community_id: str
    created_at: datetime


class ExportedVote(_Row):
    id: str
    poll_id: str
    proposal_id: str
    proposal_name: Annotated[str, Meta(examples=["星空拿铁"])]
    status: Annotated[str, Meta(examples=["active"])]
    created_at: datetime


class ExportedProposal(_Row):
    id: str
    poll_id: str
    name: str
    status: Annotated[str, Meta(examples=["approved"])]
    created_at: datetime


class ExportedTrial(_Row):
    id: str
    poll_id: str
    reason: Annotated[str, Meta(examples=["winner"])]
    status: Annotated[str, Meta(examples=["claimed"])]
    granted_at: datetime
    delivery_note: Annotated[str | None, Meta(examples=["上海市徐汇区某路 1 号"])]
    shipped_at: datetime | None
    feedback: Annotated[str | None, Meta(examples=["味道很好，会回购"])]


class ExportedPointSpend(_Row):
    """Check-in points I spent on a trial place (`trialId`); `refundedAt` and `refundReason` when they came back
    (the place expired unclaimed: docs/polls.md)."""

    id: str
    brand_id: str
    community_id: str
    poll_id: str
    trial_id: str
    points: Annotated[int, Meta(examples=[30])]
    created_at: datetime
    refunded_at: datetime | None
    refund_reason: Annotated[str | None, Meta(examples=["expired"])]


class ExportedCheckIn(_Row):
    id: str
    activity_id: str
    community_id: str
    post_id: str | None
    points: int
    streak: int
    created_at: datetime


class ExportedSignup(_Row):
    id: str
    meetup_id: str
    meetup_title: Annotated[str, Meta(examples=["周六晨跑"])]
    status: Annotated[str, Meta(examples=["confirmed"])]
    created_at: datetime
    attended_at: datetime | None


class ExportedOrder(_Row):
    id: str
    out_trade_no: Annotated[str, Meta(examples=["CE20250301083000A1B2C3"])]
    purpose: Annotated[str, Meta(examples=["community_entry"])]
    description: str
    amount_fen: int
    status: Annotated[str, Meta(examples=["paid"])]
    paid_fen: int
    refunded_fen: int
    created_at: datetime
    paid_at: datetime | None


class ExportedRefund(_Row):
    id: str
    order_id: str
    amount_fen: int
    status: Annotated[str, Meta(examples=["succeeded"])]
    reason: str | None
    created_at: datetime


class ExportedCollection(_Row):
    collection_id: str
    title: str
    status: Annotated[str, Meta(examples=["paid"])]
    order_id: str | None
    paid_at: datetime | None


class ExportedReward(_Row):
    id: str
    pool_id: str
    community_id: str
    amount_fen: int
    status: Annotated[str, Meta(examples=["owed"])]
    created_at: datetime


class ExportedTransfer(_Row):
    id: str
    purpose: Annotated[str, Meta(examples=["reward"])]
    amount_fen: int
    status: Annotated[str, Meta(examples=["succeeded"])]
    created_at: datetime


class ExportedReport(_Row):
    id: str
    target_kind: Annotated[str, Meta(examples=["post"])]
    target_id: str
    reason: str
    note: Annotated[str | None, Meta(examples=["这条内容是广告"])]
    outcome: Annotated[str, Meta(description="The case's status: open, approved or removed", examples=["removed"])]
    created_at: datetime


class ExportedNotification(_Row):
    id: str
    kind: Annotated[str, Meta(examples=["comment"])]
    community_id: str | None
    subject_type: Annotated[str, Meta(examples=["comment"])]
    subject_id: str
    created_at: datetime
    read_at: datetime | None


class ExportedUpload(_Row):
    id: str
    purpose: Annotated[str, Meta(examples=["post"])]
    created_at: datetime


class ExportedBlock(_Row):
    """A member I blocked (who blocked me is theirs to know, not mine)."""

    blocked_id: str
    created_at: datetime


class ExportedInterest(_Row):
    """A keyword of what I wrote in a community, with its decayed weight as kept (docs/interests.md)."""

    community_id: str
    tag: Annotated[str, Meta(examples=["跑步"])]
    weight: Annotated[float, Meta(examples=[3.62])]
    weighed_at: datetime


class ExportedInterestSettings(_Row):
    introductions: bool
    updated_at: datetime


class AccountExport(_Row):
    """Everything the service holds about me: my own rows, and of others only what I could see (names of
    communities I joined, of proposals I voted for)."""

    exported_at: datetime
    profile: ExportedProfile | None = None
    memberships: list[ExportedMembership] = msgspec.field(default_factory=list)
    join_requests: list[ExportedJoinRequest] = msgspec.field(default_factory=list)
    posts: list[ExportedPost] = msgspec.field(default_factory=list)
    comments: list[ExportedComment] = msgspec.field(default_factory=list)
    likes: list[ExportedLike] = msgspec.field(default_factory=list)
    votes: list[ExportedVote] = msgspec.field(default_factory=list)
    proposals: list[ExportedProposal] = msgspec.field(default_factory=list)
    trials: list[ExportedTrial] = msgspec.field(default_factory=list)
    point_spends: list[ExportedPointSpend] = msgspec.field(default_factory=list)
    check_ins: list[ExportedCheckIn] = msgspec.field(default_factory=list)
    meetup_signups: list[ExportedSignup] = msgspec.field(default_factory=list)
    orders: list[ExportedOrder] = msgspec.field(default_factory=list)
    refunds: list[ExportedRefund] = msgspec.field(default_factory=list)
    collections: list[ExportedCollection] = msgspec.field(default_factory=list)
    rewards: list[ExportedReward] = msgspec.field(default_factory=list)
    transfers: list[ExportedTransfer] = msgspec.field(default_factory=list)
    reports: list[ExportedReport] = msgspec.field(default_factory=list)
    notifications: list[ExportedNotification] = msgspec.field(default_factory=list)
    uploads: list[ExportedUpload] = msgspec.field(default_factory=list)
    blocks: list[ExportedBlock] = msgspec.field(default_factory=list)
    interests: list[ExportedInterest] = msgspec.field(default_factory=list)
    interest_settings: ExportedInterestSettings | None = None


# Both run in the erasure's (or the export's) transaction.
Eraser = Callable[[asyncpg.Connection, "Erasure"], Awaitable[None]]
Exporter = Callable[[asyncpg.Connection, int, AccountExport], Awaitable[None]]


@dataclass(frozen=True)
class Erasure:
    """The account being erased: its id (kept by the tombstone) and the random pseudonym that replaces its openid
    in the money records."""

    user_id: int
    pseudonym: str


@dataclass(frozen=True)
class Privacy:
    """A domain's part: ``exports`` fills sections of the export (a field of `AccountExport` -> a statement whose
    only parameter is the member's id and whose columns are the section's fields); ``export`` does what a
    statement cannot."""

    erase: Eraser | None = None
    export: Exporter | None = None
    exports: Mapping[str, str] = field(default_factory=dict)
    erases: tuple[str, ...] = ()
    keeps: tuple[str, ...] = ()


_privacy: list[Privacy] = []


def install_privacy(declared: Sequence[Privacy]) -> None:
    unknown = {section for privacy in declared for section in privacy.exports} - _section_models().keys()
    if unknown:  # at start-up, not when a member first asks for a copy
        raise RuntimeError(f"export sections that AccountExport does not have: {sorted(unknown)}")
    _privacy[:] = declared


async def erase_account(conn: asyncpg.Connection, erasure: Erasure) -> None:
    for privacy in _privacy:
        if privacy.erase is not None:
            await privacy.erase(conn, erasure)


async def export_account(conn: asyncpg.Connection, user_id: int, now: datetime) -> AccountExport:
    export = AccountExport(exported_at=now)
    for privacy in _privacy:
        for section, sql in privacy.exports.items():
            model = _section_models()[section]
            getattr(export, section).extend(from_row(model, row) for row in await conn.fetch(sql, user_id))
        if privacy.export is not None:
            await privacy.export(conn, user_id, export)
    return export


@cache
def _section_models() -> dict[str, type]:
    """Each list section of the export and the Struct of its items."""
    fields = msgspec.inspect.type_info(AccountExport).fields
    return {f.name: f.type.item_type.cls for f in fields if isinstance(f.type, msgspec.inspect.ListType)}


def declared_tables() -> tuple[set[str], set[str]]:
    """The tables the installed domains erase, and those they keep."""
    return {t for p in _privacy for t in p.erases}, {t for p in _privacy for t in p.keeps}
