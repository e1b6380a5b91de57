"""The delivery log and the dispatcher: every message sent once, retried, or dead-lettered.

A consumed event becomes rows of ``deliveries`` — one per (event id, address, channel), the
table's unique key, inserted with ``ON CONFLICT DO NOTHING`` in the same transaction as the
consumer's dedupe record. So a redelivered event, or the same address reached through two
audiences, never makes a second message.

The dispatcher claims due rows (``FOR UPDATE SKIP LOCKED``, with a claim that expires, so
several replicas share the work and a crashed worker's rows go out again), sends them over
their channel under a per-channel rate limit, and settles each: ``sent``; retried later with
exponential backoff and jitter (or the receiver's ``Retry-After``) after a transient failure;
``dead`` with the reason after a permanent one or the last attempt. Retries are rows with a
due time, not sleeping tasks, so they survive restarts and are visible in
``GET /v1/deliveries``. A crash between sending and settling sends the message again with the
same delivery id (``Message-ID``, ``webhook-id``), which receivers use to drop the repeat.

long: the log's schema, planning into it and the dispatcher that drains it are one
exactly-once mechanism; the channels themselves live in ``channels/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from aiolimiter import AsyncLimiter
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import SpanKind

from notifier.channels import DeliveryFailed, Outgoing, Sender
from servicekit.clock import Clock
from servicekit.messaging.consumer import Connection

log = logging.getLogger(__name__)
tracer = trace.get_tracer("notifier")
meter = metrics.get_meter("notifier")
ATTEMPTS = meter.create_counter(
    "supportdesk.notifier.deliveries",
    description="Delivery attempts by channel and outcome (sent, retried, dead)",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS notifier_tickets (
    ticket_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    view JSONB NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    seq BIGSERIAL NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    policy TEXT NOT NULL,
    case_number TEXT NOT NULL,
    kind TEXT NOT NULL,
    audience TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    recipient_name TEXT,
    locale TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    short TEXT NOT NULL,
    event JSONB,
    traceparent TEXT,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_until TIMESTAMPTZ,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ,
    UNIQUE (event_id, address, channel)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_by_ticket ON deliveries (ticket_id, seq);
CREATE INDEX IF NOT EXISTS deliveries_by_status ON deliveries (status, seq);
"""

CLAIM = """
UPDATE deliveries SET claimed_until = clock_timestamp() + $2::interval, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM deliveries
    WHERE status = 'pending' AND next_attempt_at <= $1
      AND (claimed_until IS NULL OR claimed_until <= clock_timestamp())
    ORDER BY next_attempt_at, seq
    LIMIT $3
    FOR UPDATE SKIP LOCKED)
RETURNING *
"""
"""Due is business time (the injectable clock: tests and demos move it); a claim is worker
liveness, so it runs on the database's real clock — a simulated jump of hours must not make
every claim in flight look abandoned and send its message again."""


def delivery_id(event_id: str, channel: str, address: str) -> str:
    """The same message to the same address keeps its id across attempts and replicas."""
    return hashlib.sha256(f"{event_id}\n{channel}\n{address}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Planned:
    """A message to send, as the planner writes it to the log."""

    event_id: str
    event_type: str
    ticket_id: str
    tenant: str
    policy: str
    case_number: str
    kind: str
    audience: str
    channel: str
    address: str
    recipient_name: str | None
    locale: str
    subject: str
    body: str
    short: str
    event: dict[str, Any] | None
    traceparent: str | None

    @property
    def id(self) -> str:
        return delivery_id(self.event_id, self.channel, self.address)


async def plan(conn: Connection, planned: Planned, now: datetime) -> bool:
    """Log a message to send (inside the consumer's transaction); False if already logged."""
    inserted = await conn.fetchval(
        "INSERT INTO deliveries (id, event_id, event_type, ticket_id, tenant, policy,"
        " case_number, kind, audience, channel, address, recipient_name, locale, subject, body,"
        " short, event, traceparent, next_attempt_at, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
        " $18, $19, $19) ON CONFLICT DO NOTHING RETURNING true",
        planned.id,
        planned.event_id,
        planned.event_type,
        planned.ticket_id,
        planned.tenant,
        planned.policy,
        planned.case_number,
        planned.kind,
        planned.audience,
        planned.channel,
        planned.address,
        planned.recipient_name,
        planned.locale,
        planned.subject,
        planned.body,
        planned.short,
        json.dumps(planned.event) if planned.event is not None else None,
        planned.traceparent,
        now,
    )
    return bool(inserted)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """Exponential backoff with 'equal jitter': half fixed, half random, so a burst of
        failures (an SMTP outage) does not come back as a burst."""
        ceiling: timedelta = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        return timedelta(seconds=ceiling.total_seconds() * (0.5 + 0.5 * rng.random()))


@dataclass(frozen=True)
class Outcome:
    delivery_id: str
    sent: bool
    reason: str | None = None
    permanent: bool = False
    retry_after: float | None = None


def outgoing(row: asyncpg.Record | Mapping[str, Any]) -> Outgoing:
    event = row["event"]
    return Outgoing(
        delivery_id=row["id"],
        channel=row["channel"],
        address=row["address"],
        recipient_name=row["recipient_name"],
        subject=row["subject"],
        body=row["body"],
        short=row["short"],
        ticket_id=row["ticket_id"],
        case_number=row["case_number"],
        event=json.loads(event) if isinstance(event, str) else event,
        created_at=row["created_at"],
    )


class Dispatcher:
    """Sends due deliveries over their channels and records every outcome."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        senders: Mapping[str, Sender],
        *,
        retry: RetryPolicy | None = None,
        rate_limits: Mapping[str, float] | None = None,
        claim: timedelta = timedelta(minutes=2),
        batch: int = 50,
        rng: random.Random | None = None,
    ) -> None:
        self.pool = pool
        self.clock = clock
        self.senders = dict(senders)
        self.retry = retry or RetryPolicy()
        self.limiters = {
            channel: AsyncLimiter(rate, 1.0) if rate >= 1 else AsyncLimiter(1, 1 / rate)
            for channel, rate in (rate_limits or {}).items()
            if rate > 0
        }
        self.claim = claim
        self.batch = batch
        self.rng = rng or random.Random()
        self.sent = 0
        self.retried = 0
        self.dead = 0
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._progress = asyncio.Condition()

    def wake(self) -> None:
        """New deliveries were logged: look now rather than at the next poll."""
        self._wake.set()

    async def dispatch_due(self) -> int:
        """Attempt every delivery due by now (one batch); returns how many were attempted."""
        now = self.clock.now()
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(CLAIM, now, self.claim, self.batch)
        if not rows:
            return 0
        # One recipient's messages go one after the other, in the order they were logged (the
        # acknowledgment before "an engineer is handling your case"); different recipients in
        # parallel. ``UPDATE … RETURNING`` keeps no order, hence the sort.
        rows = sorted(rows, key=lambda row: (row["next_attempt_at"], row["seq"]))
        queues: dict[tuple[str, str], list[asyncpg.Record]] = {}
        for row in rows:
            queues.setdefault((row["channel"], row["address"]), []).append(row)

        async def in_order(queue: list[asyncpg.Record]) -> list[Outcome]:
            return [await self._attempt(row) for row in queue]

        sent = await asyncio.gather(*(in_order(queue) for queue in queues.values()))
        by_row = {
            id(row): outcome
            for queue, outcomes in zip(queues.values(), sent, strict=True)
            for row, outcome in zip(queue, outcomes, strict=True)
        }
        await self._settle(rows, [by_row[id(row)] for row in rows])
        return len(rows)

    async def _attempt(self, row: asyncpg.Record) -> Outcome:
        message = outgoing(row)
        sender = self.senders.get(message.channel)
        if sender is None:
            reason = f"the {message.channel} channel is not configured in this deployment"
            return Outcome(message.delivery_id, False, reason, permanent=True)
        context = propagate.extract({"traceparent": row["traceparent"] or ""})
        with tracer.start_as_current_span(
            f"notify {message.channel}",
            context=context,
            kind=SpanKind.CLIENT,
            attributes={
                "supportdesk.delivery.id": message.delivery_id,
                "supportdesk.delivery.channel": message.channel,
                "supportdesk.delivery.attempt": row["attempts"],
                "supportdesk.ticket.case_number": message.case_number,
            },
        ) as span:
            try:
                limiter = self.limiters.get(message.channel)
                if limiter is not None:
                    async with limiter:
                        await sender.send(message)
                else:
                    await sender.send(message)
            except DeliveryFailed as failure:
                span.set_attribute("error.type", "permanent" if failure.permanent else "transient")
                return Outcome(
                    message.delivery_id,
                    False,
                    failure.reason,
                    failure.permanent,
                    failure.retry_after,
                )
            except Exception as exc:  # a sender's bug must not stop the other deliveries
                log.exception("delivery %s: unexpected error", message.delivery_id)
                span.record_exception(exc)
                return Outcome(message.delivery_id, False, f"unexpected error: {exc!r}")
        return Outcome(message.delivery_id, True)

    async def _settle(self, rows: list[asyncpg.Record], outcomes: list[Outcome]) -> None:
        now = self.clock.now()
        attempts = {row["id"]: row["attempts"] for row in rows}
        channels = {row["id"]: row["channel"] for row in rows}
        sent = [o.delivery_id for o in outcomes if o.sent]
        async with self.pool.acquire() as conn, conn.transaction():
            if sent:  # the common case, in one statement
                await conn.execute(
                    "UPDATE deliveries SET status = 'sent', sent_at = $2,"
                    " claimed_until = NULL, last_error = NULL"
                    " WHERE id = ANY($1::text[]) AND status = 'pending'",
                    sent,
                    now,
                )
                self.sent += len(sent)
                for row in rows:
                    if row["id"] in sent:
                        ATTEMPTS.add(1, {"channel": row["channel"], "outcome": "sent"})
            for outcome in outcomes:
                attempt = attempts[outcome.delivery_id]
                channel = channels[outcome.delivery_id]
                if outcome.sent:
                    continue
                if outcome.permanent or attempt >= self.retry.max_attempts:
                    reason = outcome.reason or "failed"
                    if not outcome.permanent:
                        reason = f"gave up after {attempt} attempts: {reason}"
                    log.warning("delivery %s dead: %s", outcome.delivery_id, reason)
                    await conn.execute(
                        "UPDATE deliveries SET status = 'dead', claimed_until = NULL,"
                        " last_error = $2 WHERE id = $1 AND status = 'pending'",
                        outcome.delivery_id,
                        reason[:2000],
                    )
                    self.dead += 1
                    ATTEMPTS.add(1, {"channel": channel, "outcome": "dead"})
                else:
                    delay = self.retry.delay(attempt, self.rng)
                    if outcome.retry_after is not None:
                        delay = max(delay, timedelta(seconds=outcome.retry_after))
                    await conn.execute(
                        "UPDATE deliveries SET next_attempt_at = $2, claimed_until = NULL,"
                        " last_error = $3 WHERE id = $1 AND status = 'pending'",
                        outcome.delivery_id,
                        now + delay,
                        (outcome.reason or "failed")[:2000],
                    )
                    self.retried += 1
                    ATTEMPTS.add(
                        1, {"channel": channels[outcome.delivery_id], "outcome": "retried"}
                    )
        async with self._progress:
            self._progress.notify_all()

    async def wait_settled(self, *, sent: int = 0, dead: int = 0, retried: int = 0) -> None:
        """Wait until at least these many outcomes were recorded (tests, operations)."""
        async with self._progress:
            await self._progress.wait_for(
                lambda: self.sent >= sent and self.dead >= dead and self.retried >= retried
            )

    async def run(self, poll_seconds: float = 1.0) -> None:
        """Dispatch until ``stop()``: at once when woken, else every ``poll_seconds``."""
        while not self._stopping.is_set():
            try:
                attempted = await self.dispatch_due()
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("dispatcher: database unavailable (%r); retrying", exc)
                attempted = 0
            if attempted >= self.batch:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
