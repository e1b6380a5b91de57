"""Durable SLA timers and actions: warnings before a breach and the breach itself, published
once; ticket changes the policy asks for, sent once.

Timers (``sla_timers``) and actions (``sla_actions``) are rows armed by the projection; this
loop fires the due ones on the injectable clock. A timer publishes an SLA event to the ``SLA``
stream and is recorded in ``sla_fired`` in one database transaction. The event's id — ticket,
metric, kind, threshold and due instant — is its ``Nats-Msg-Id``: if the process dies after
publishing but before the commit, the next attempt publishes the same id and JetStream's
duplicate window drops it, so the effect happens once. An action carries its whole command
(decided by ``sla_monitor.actions``): it is sent to ticket-api with its identity — ticket,
kind, level, due — as ``Idempotency-Key`` (or, for the close notice, published as an event of
that id) and recorded in ``sla_actions_done``. Several replicas share the work with
``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from nats.js import JetStreamContext
from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Link, SpanKind

from contracts.events import Actor, ActorKind, EventPayload, envelope, subject, to_wire
from contracts.events.sla import AbandonmentWarning, Breached, WarningRaised
from contracts.vocabulary import Metric
from servicekit.clock import Clock
from sla_monitor import queries
from sla_monitor.actions import NOTIFY
from sla_monitor.changes import timer_key
from sla_monitor.commands import TicketCommands
from sla_monitor.projection import current_traceparent
from sla_monitor.queries import DUE as DUE

log = logging.getLogger(__name__)
tracer = trace.get_tracer("sla_monitor")
meter = metrics.get_meter("sla_monitor")
FIRED = meter.create_counter(
    "supportdesk.sla.timers.fired",
    description="SLA warnings and breaches fired, by policy, priority, metric and kind",
)
FIRING_LAG = meter.create_histogram(
    "supportdesk.sla.timer.firing_lag",
    unit="s",
    description="From a timer's due instant to its firing",
)
_armed: dict[str, int] = {}


def _observe_armed(_: CallbackOptions) -> list[Observation]:
    return [Observation(n) for n in _armed.values()]


meter.create_observable_gauge(
    "supportdesk.sla.timers.armed",
    callbacks=[_observe_armed],
    description="SLA timers armed and not yet fired (counted every 30 s)",
)
SOURCE = "/sla-monitor"
ACTOR = Actor(kind=ActorKind.SERVICE, id="sla-monitor", name="sla-monitor")


class TimerLoop:
    """Fires due SLA timers exactly once: SLA events to the stream, ticket changes to
    ticket-api."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        clock: Clock,
        batch: int = 500,
        commands: TicketCommands | None = None,
    ) -> None:
        self.pool = pool
        self.commands = commands
        """Where ticket changes go (escalate, resolve, close); None: those timers wait."""
        self.js = js
        self.clock = clock
        self.batch = batch
        self.fired = 0
        self._stopping = asyncio.Event()
        self._progress = asyncio.Condition()

    async def setup(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(queries.SCHEMA)

    async def fire_due(self) -> int:
        """Fire every timer and action due by now, earliest first; returns how many fired.

        One order for both: an escalation due before a breach is sent first, so the breach is
        heard by the level the ticket has reached by then."""
        now = self.clock.now()
        async with self.pool.acquire() as conn, conn.transaction():
            timers = await conn.fetch(queries.DUE, now, self.batch)
            actions = await conn.fetch(
                queries.DUE_ACTIONS, now, self.batch, self.commands is not None
            )
            due = sorted([*timers, *actions], key=lambda row: row["due"])
            run: list[Any] = []  # consecutive timers, fired together
            for row in due:
                if "metric" in row:
                    run.append(row)
                    continue
                await self._fire_timers(conn, run, now)
                run = []
                with self._firing_span(row, now, row["kind"]):
                    await self._fire_action(conn, row, now)
            await self._fire_timers(conn, run, now)
        async with self._progress:
            self.fired += len(due)
            self._progress.notify_all()
        return len(due)

    async def _fire_timers(self, conn: Any, rows: list[Any], now: datetime) -> None:
        """Publish a run of timers' SLA events, record them, take them out of the due set.

        The publishes are pipelined — all sent, then all acknowledgements awaited — in due order
        on one connection, so the stream keeps that order; one waited round trip per timer
        made a restart's backlog crawl. The bookkeeping is two set-based statements. If any
        publish fails, the transaction rolls back and the next pass publishes the same ids
        again, which JetStream's duplicate window drops.
        """
        if not rows:
            return

        async def fire(row: Any) -> str:
            with self._firing_span(row, now, row["kind"]):
                return await self._publish(row)

        event_ids = await asyncio.gather(*(fire(row) for row in rows))
        columns = [
            [row[name] for row in rows] for name in ("ticket_id", "metric", "kind", "threshold")
        ]
        dues = [row["due"] for row in rows]
        await conn.execute(queries.RECORD_FIRED_MANY, *columns, dues, now, list(event_ids))
        await conn.execute(queries.DISARM_MANY, *columns, dues)  # so later scans stay short

    async def _fire_action(self, conn: Any, row: Any, now: datetime) -> None:
        """Send the action's command (or publish the notice), record it as done, disarm it."""
        if row["command"] == NOTIFY:
            key = await self._close_notice(row)
        else:
            key = await self._command(row, now)
        action = (row["ticket_id"], row["kind"], row["level"], row["due"])
        await conn.execute(queries.RECORD_DONE, *action, now, key)
        await conn.execute(queries.DISARM_ACTION, *action)

    @staticmethod
    def _firing_span(row: Any, now: datetime, kind: str) -> Any:
        """A timer's work starts a trace of its own, linked to the trace that armed it (the
        ticket event that set the deadline); what it causes downstream continues this one."""
        armed = trace.get_current_span(propagate.extract({"traceparent": row["armed_by"] or ""}))
        context = armed.get_span_context()
        lag = (now - row["due"]).total_seconds()
        metric = row.get("metric", "ticket")  # an action concerns the whole ticket
        FIRING_LAG.record(lag, {"kind": kind, "metric": metric})
        if metric != "ticket":
            FIRED.add(1, {"policy": row["policy"], "priority": row["priority"],
                          "metric": metric, "kind": kind})  # fmt: skip
        return tracer.start_as_current_span(
            f"sla timer {kind}",
            context=Context(),
            kind=SpanKind.INTERNAL,
            links=[Link(context)] if context.is_valid else [],
            attributes={
                "supportdesk.ticket.id": str(row["ticket_id"]),
                "supportdesk.sla.metric": metric,
                "supportdesk.sla.timer": kind,
                "supportdesk.sla.policy": row["policy"],
                "supportdesk.sla.firing_lag_s": lag,
            },
        )

    async def wait_fired(self, count: int) -> None:
        """Wait until ``count`` timers have fired and been recorded (tests, operations)."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.fired >= count)

    async def publish_outbox(self) -> int:
        """Publish queued SLA events (clock started, paused, met...) in the order queued."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT seq, event_id, subject, body, traceparent FROM sla_outbox "
                "WHERE published_at IS NULL "
                "ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch,
            )
            for row in rows:
                headers = {"Nats-Msg-Id": row["event_id"]}
                if row["traceparent"]:
                    headers["traceparent"] = row["traceparent"]
                await self.js.publish(row["subject"], row["body"], headers=headers)
            await conn.execute(
                "UPDATE sla_outbox SET published_at = now() WHERE seq = ANY($1::bigint[])",
                [row["seq"] for row in rows],
            )
        return len(rows)

    async def _command(self, row: Any, now: datetime) -> str:
        """Ask ticket-api for the change; the action's identity is the idempotency key."""
        assert self.commands is not None
        key = action_key(row)
        status = await self.commands.send(row["ticket_id"], row["command"], body(row), key)
        if status >= 400:
            log.info(
                "ticket %s moved on; %s not needed (%s)", row["ticket_id"], row["kind"], status
            )
        return key

    async def _close_notice(self, row: Any) -> str:
        """Tell the customer of the automatic close to come (``notice_before_close``): an SLA
        event naming when it happens; the notifier words and sends it."""
        payload = AbandonmentWarning.model_validate({**body(row), "actor": ACTOR})
        return await self._send(row, payload, "ticket", threshold=float(row["level"]))

    async def _publish(self, row: Any) -> str:
        metric = Metric(row["metric"])
        payload: EventPayload
        if row["kind"] == "warning":
            target = timedelta(seconds=row["target_seconds"] or 0)
            payload = WarningRaised(
                actor=ACTOR,
                metric=metric,
                priority=row["priority"],
                threshold=row["threshold"],
                deadline=row["deadline"],
                remaining=target * (1 - row["threshold"]),
                cycle=row["cycle"],
            )
        else:
            payload = Breached(
                actor=ACTOR,
                metric=metric,
                priority=row["priority"],
                deadline=row["due"],
                cycle=row["cycle"],
            )
        return await self._send(row, payload, metric.value)

    async def _send(
        self, row: Any, payload: EventPayload, metric: str, threshold: float | None = None
    ) -> str:
        """Publish a timer's SLA event, identified by the timer (``timer_key``)."""
        due: datetime = row["due"]
        level = row["threshold"] if threshold is None else threshold
        event_id = f"{row['ticket_id']}:{timer_key(metric, row['kind'], level, due)}"
        event = envelope(
            payload,
            ticket_id=row["ticket_id"],
            ticket_version=row["ticket_version"],
            tenant=row["tenant"],
            policy=row["policy"],
            time=due,  # when the threshold was crossed, not when the loop noticed it
            source=SOURCE,
            event_id=event_id,
            traceparent=current_traceparent(),
        )
        headers = {"Nats-Msg-Id": event_id}
        propagate.inject(headers)
        await self.js.publish(
            subject(payload.event_name, tenant=row["tenant"], ticket_id=row["ticket_id"]),
            to_wire(event),
            headers=headers,
        )
        return event_id

    async def run(self, poll: float = 0.5) -> None:
        """Fire timers until stopped; on start, whatever came due meanwhile fires first."""
        counted = 0.0
        while not self._stopping.is_set():
            try:
                if time.monotonic() - counted > 30:
                    async with self.pool.acquire() as conn:
                        _armed["timers"] = await conn.fetchval(queries.ARMED_COUNT)
                    counted = time.monotonic()
                while await self.fire_due() >= self.batch:
                    pass  # a backlog: keep going
                while await self.publish_outbox() == self.batch:
                    pass
            except Exception:
                log.exception("firing SLA timers failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=poll)

    def stop(self) -> None:
        self._stopping.set()


def action_key(row: Any) -> str:
    """An action's identity, the ``Idempotency-Key`` of its command: ticket, kind, level and
    due instant (as the version that armed actions as timers wrote it, so a command it sent
    and this one retries is still one)."""
    return f"{row['ticket_id']}:{row['kind']}:{float(row['level'])}:{row['due'].isoformat()}"


def body(row: Any) -> dict[str, Any]:
    """An action's stored body (asyncpg gives JSONB as text)."""
    raw = row["body"]
    value: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else dict(raw)
    return value
