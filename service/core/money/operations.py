"""One state machine for the money WeChat Pay moves out: a refund or a merchant transfer, followed to its end.

The operation is promised first, in our database (a `pending` row and a queued job). `follow` sends it to
WeChat, idempotent by its merchant number, or asks WeChat how one already sent stands; `apply` records what
WeChat says (an answer, a query or a notification) once, under the row's lock. The job comes back while the
operation is still moving. What differs between the two kinds (their table, WeChat's calls, what a new state
entails) is what a subclass says.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar, Generic, TypeVar

import asyncpg

from service.core.money.notifications import mismatch
from service.errors import Problem
from service.jobs import Reschedule
from service.wechat.pay import PayError, WeChatPay

log = logging.getLogger("service.checkout")

Answer = TypeVar("Answer")  # what WeChat says of one operation: a refund, a transfer bill


class Operation(ABC, Generic[Answer]):
    kind: ClassVar[str]  # "refund" | "transfer": in messages and log fields
    states: ClassVar[Mapping[str, str]]  # WeChat's state -> ours
    final: ClassVar[frozenset[str]]  # nothing changes any more
    moving: ClassVar[frozenset[str]]  # worth asking WeChat again, every `check_every` seconds
    check_every: ClassVar[float]
    repeats_with_news: ClassVar[frozenset[str]] = frozenset()  # a state WeChat may repeat with new details
    load: ClassVar[str]  # SQL: the row to follow by id, with what sending it needs

    @abstractmethod
    async def send(self, pay: WeChatPay, row: asyncpg.Record) -> Answer: ...

    @abstractmethod
    async def query(self, pay: WeChatPay, row: asyncpg.Record) -> Answer: ...

    @abstractmethod
    async def keep_error(self, conn: asyncpg.Connection, row: asyncpg.Record, exc: PayError) -> None:
        """WeChat could not be reached, asked to retry, answered a query with an error or gave an answer that
        failed verification: the error is kept, the state is not written (`row` was read unlocked, before the
        call: a notification may have moved it since)."""

    @abstractmethod
    async def fail(self, conn: asyncpg.Connection, row: asyncpg.Record, exc: PayError) -> None:
        """WeChat refused to send the operation (in a transaction): it fails if it is still pending."""

    @abstractmethod
    async def lock(self, conn: asyncpg.Connection, answer: Answer) -> asyncpg.Record | None:
        """The operation's row, locked (None: not ours); raises when the answer is about something else."""

    @abstractmethod
    def amount(self, answer: Answer) -> int | None: ...

    @abstractmethod
    async def record(self, conn: asyncpg.Connection, row: asyncpg.Record, status: str, answer: Answer) -> None:
        """Write the new state and what it entails (the ledger, the purpose's hook), in `apply`'s transaction."""

    async def follow(self, pool: asyncpg.Pool, pay: WeChatPay, operation_id: int) -> None:
        """Send a promised operation to WeChat, or ask how one in progress stands, and record the answer.
        Raises PayError for the job to retry, Reschedule while the operation is still moving."""
        row = await pool.fetchrow(self.load, operation_id)
        if row is None or row["status"] in self.final:
            return
        sending = row["status"] == "pending"
        try:
            answer = await (self.send if sending else self.query)(pay, row)
        except PayError as exc:
            # Only a send WeChat refused fails the operation. An error on a query (the operation stands at WeChat
            # whatever the query met), an answer that failed verification or WeChat out of reach says nothing of
            # where it stands: it stays as it is and the job asks again, with its backoff.
            if sending and exc.refused:
                log.error(
                    f"WeChat Pay refused a {self.kind}", extra={f"{self.kind}Id": operation_id, "error": str(exc)}
                )
                async with pool.acquire() as conn, conn.transaction():
                    await self.fail(conn, row, exc)
                return
            async with pool.acquire() as conn:
                await self.keep_error(conn, row, exc)
            raise
        async with pool.acquire() as conn:
            status = await self.apply(conn, answer)
        if status in self.moving:
            raise Reschedule(self.check_every)

    async def apply(self, conn: asyncpg.Connection, answer: Answer) -> str:
        """Record what WeChat says of the operation, once. Returns its status afterwards."""
        async with conn.transaction():
            row = await self.lock(conn, answer)
            if row is None:
                raise Problem("pay_notification_unknown", f"no such {self.kind}")
            ours = {f"{self.kind}Id": row["id"]}
            amount = self.amount(answer)
            if amount is not None and amount != row["amount_fen"]:
                raise mismatch(f"{self.kind} amount", **ours)
            state = answer.state  # type: ignore[attr-defined]
            status = self.states.get(state)
            if status is None:
                raise mismatch(f"unknown {self.kind} state {state}", **ours)
            # `failed` is final but for a success: WeChat pays nothing it refused or failed, so a success after it
            # means our verdict was wrong (a query error once failed operations WeChat still held) and the money
            # moved. It is booked, and the purpose hears of it.
            late_success = row["status"] == "failed" and status == "succeeded"
            if late_success:
                log.error(f"a failed {self.kind} succeeded at WeChat: booked", extra=ours)
            elif row["status"] in self.final or (row["status"] == status and status not in self.repeats_with_news):
                return row["status"]
            await self.record(conn, row, status, answer)
            return status
