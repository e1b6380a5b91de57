"""The consumer's inbox: which events a consumer has handled, and the ones it set aside.

Kept apart from the consumer loop because it is the piece that makes handling exactly-once: a
handler's work and the record of its event id commit in one PostgreSQL transaction — one
transaction per fetched batch, one per message when a batch has to be retried message by
message — and a redelivery finds the record. Dead letters (unreadable events, events that kept
failing) are kept with their bytes so an operator can look at them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection = asyncpg.Connection | PoolConnectionProxy
"""The transaction a handler works in (a pooled asyncpg connection)."""
Work = Callable[[Connection], Awaitable[None]]


class Inbox(Protocol):
    async def process(self, event_id: str, work: Work) -> bool:
        """Do ``work`` and record ``event_id`` in one transaction; False if already done."""
        ...

    async def process_batch(self, items: list[tuple[str, Work]]) -> list[bool]:
        """Record every id and do the work of the new ones, all in one transaction.

        Returns, per item, whether it was new. Raises (having rolled everything back) if any
        work fails. The ids must be distinct.
        """
        ...

    async def dead_letter(
        self, *, event_id: str | None, subject: str, body: bytes, reason: str, deliveries: int
    ) -> None: ...


class PostgresInbox:
    """Processed-event records and dead letters of one consumer, in PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool, consumer: str) -> None:
        self.pool = pool
        self.consumer = consumer

    async def setup(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS consumer_inbox ("
                " consumer TEXT NOT NULL, event_id TEXT NOT NULL,"
                " processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
                " PRIMARY KEY (consumer, event_id));"
                "CREATE TABLE IF NOT EXISTS consumer_dead_letters ("
                " id BIGSERIAL PRIMARY KEY, consumer TEXT NOT NULL, event_id TEXT,"
                " subject TEXT NOT NULL, body BYTEA NOT NULL, reason TEXT NOT NULL,"
                " deliveries INTEGER NOT NULL, recorded_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )

    async def process(self, event_id: str, work: Work) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            # A concurrent redelivery blocks here on the key until the first one commits.
            first = await conn.fetchval(
                "INSERT INTO consumer_inbox (consumer, event_id) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING RETURNING true",
                self.consumer,
                event_id,
            )
            if not first:
                return False
            await work(conn)
            return True

    async def process_batch(self, items: list[tuple[str, Work]]) -> list[bool]:
        if not items:
            return []
        async with self.pool.acquire() as conn, conn.transaction():
            # One statement records the whole batch; a concurrent redelivery of any of these ids
            # waits on its key until this transaction ends, as in ``process``.
            rows = await conn.fetch(
                "INSERT INTO consumer_inbox (consumer, event_id) "
                "SELECT $1, id FROM unnest($2::text[]) AS id "
                "ON CONFLICT DO NOTHING RETURNING event_id",
                self.consumer,
                [event_id for event_id, _ in items],
            )
            new = {row["event_id"] for row in rows}
            for event_id, work in items:  # stream order: a ticket's events in their order
                if event_id in new:
                    await work(conn)
            return [event_id in new for event_id, _ in items]

    async def dead_letter(
        self, *, event_id: str | None, subject: str, body: bytes, reason: str, deliveries: int
    ) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO consumer_dead_letters "
                "(consumer, event_id, subject, body, reason, deliveries) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                self.consumer,
                event_id,
                subject,
                body,
                reason[:2000],
                deliveries,
            )
