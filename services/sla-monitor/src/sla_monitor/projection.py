"""The SLA projection: ticket events in, each ticket's clocks and armed timers out (PostgreSQL).

Each ticket event is stored with the ticket's SLA bookkeeping; the ticket's clocks are rebuilt
from its stored events (so the projection is a pure function of the stream: replaying from the
start gives identical rows) and written, with the timers they arm, in the same transaction as
the consumer toolkit's dedupe record. A redelivered event therefore changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from opentelemetry import propagate

from contracts.events import EVENTS, CloudEvent, EventPayload, envelope, subject, to_wire
from contracts.events import ticket as te
from contracts.policy import SupportPolicy
from servicekit.messaging.consumer import Connection
from sla_monitor import queries
from sla_monitor.changes import abandonment_warnings, clock_changes, missed_breaches
from sla_monitor.clocks import TicketSla
from sla_monitor.queries import SCHEMA as SCHEMA
from sla_monitor.tickets import TicketFacts, ticket_facts


def current_traceparent() -> str | None:
    """The W3C traceparent of the span in hand (the consumer's), to be continued later."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


class SlaProjection:
    """Applies ticket events to the SLA tables; the consumer toolkit calls ``handle``."""

    def __init__(self, policies: dict[str, SupportPolicy]) -> None:
        self.policies = policies

    @staticmethod
    async def setup(conn: Connection) -> None:
        await conn.execute(queries.SCHEMA)

    async def rearm_legacy_actions(self, conn: Connection) -> int:
        """Re-arm, from their events, the tickets whose actions an earlier version armed as
        timers of metric ``ticket``; what those already did stays done (``sla_actions_done``
        took it over from ``sla_fired``). Returns how many tickets were re-armed."""
        tickets = await conn.fetch(queries.LEGACY_ACTION_TICKETS)
        for row in tickets:
            await conn.execute(queries.DISARM_LEGACY_ACTIONS, row["ticket_id"])
            await self.refresh(conn, row["ticket_id"], announce=False)
        return len(tickets)

    async def handle(self, event: CloudEvent, payload: EventPayload, conn: Connection) -> None:
        """One ticket event, in the consumer's transaction."""
        if not isinstance(payload, te.TicketEvent) or event.policy not in self.policies:
            return
        ticket_id = UUID(event.subject)
        await conn.execute(
            "INSERT INTO sla_ticket_events (ticket_id, version, name, payload, at, policy, tenant)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            ticket_id,
            event.ticketversion,
            event.event_name,
            json.dumps(payload.model_dump(mode="json")),
            event.time,
            event.policy,
            event.tenant,
        )
        await self.refresh(conn, ticket_id)

    async def rebuild(self, conn: Connection) -> int:
        """Recompute every ticket's clocks, timers and facts from the stored events (a repair;
        also what fills ``sla_tickets`` for tickets projected before it existed)."""
        await conn.execute("TRUNCATE sla_clocks, sla_timers, sla_actions, sla_tickets")
        tickets = await conn.fetch("SELECT DISTINCT ticket_id FROM sla_ticket_events")
        for row in tickets:  # what was announced stays announced: no events from a repair
            await self.refresh(conn, row["ticket_id"], announce=False)
        return len(tickets)

    async def refresh(self, conn: Connection, ticket_id: UUID, *, announce: bool = True) -> None:
        """Rebuild one ticket's clocks from its stored events; write clocks and timers."""
        rows = await conn.fetch(queries.EVENTS_OF, ticket_id)
        sla = replay(self.policies, [dict(row) for row in rows])
        if sla is None:
            return  # the ticket's start is not here (yet): nothing to measure against
        last = rows[-1]
        if announce:
            await self._announce(
                conn, ticket_id, sla, last["at"], last["version"], rows[0]["tenant"]
            )
        await self._write(conn, ticket_id, sla, last["at"], last["version"], rows[0]["tenant"])
        facts = ticket_facts([dict(row) for row in rows])
        if facts is not None:
            await self._write_ticket(conn, ticket_id, facts, rows[0]["policy"], rows[0]["tenant"])

    async def _announce(
        self,
        conn: Connection,
        ticket_id: UUID,
        sla: TicketSla,
        as_of: datetime,
        version: int,
        tenant: str,
    ) -> None:
        """Queue SLA events for what this ticket event changed (published by the timer loop)."""
        before = {
            row["metric"]: dict(row)
            for row in await conn.fetch(
                "SELECT metric, status, running, priority, cycle FROM sla_clocks "
                "WHERE ticket_id = $1",
                ticket_id,
            )
        }
        armed = {
            (row["kind"], row["level"])
            for row in await conn.fetch(queries.ARMED_ACTIONS, ticket_id)
        }
        fired = {
            (row["metric"], row["due"])
            for row in await conn.fetch(queries.ANNOUNCED_BREACHES, ticket_id)
        }
        # A breach revealed by this event goes first: announced before the Met that ends it.
        breaches = missed_breaches(sla, fired)
        changes = breaches + clock_changes(sla, sla.view(as_of), before, version)
        changes += abandonment_warnings(sla.actions(), armed, version)
        records = []
        for change in changes:
            event = envelope(
                change.payload,
                ticket_id=ticket_id,
                ticket_version=version,
                tenant=tenant,
                policy=sla.policy.id,
                time=change.at or as_of,
                source="/sla-monitor",
                event_id=f"{ticket_id}:{change.key}",
            )
            where = subject(change.payload.event_name, tenant=tenant, ticket_id=ticket_id)
            records.append((event.id, where, to_wire(event), current_traceparent()))
        await conn.executemany(
            "INSERT INTO sla_outbox (event_id, subject, body, traceparent) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (event_id) DO NOTHING",
            records,
        )
        # Announced once: the timer loop must not fire these breaches again.
        await conn.executemany(
            queries.RECORD_ANNOUNCED_BREACH,
            [
                (ticket_id, c.payload.metric.value, c.at, as_of, f"{ticket_id}:{c.key}")  # type: ignore[attr-defined]
                for c in breaches
            ],
        )

    async def _write(
        self,
        conn: Connection,
        ticket_id: UUID,
        sla: TicketSla,
        as_of: datetime,
        version: int,
        tenant: str,
    ) -> None:
        records: list[tuple[Any, ...]] = []
        for view in sla.view(as_of):
            clock = sla.clocks[view.metric]
            records.append(
                (
                    ticket_id,
                    view.metric.value,
                    sla.policy.id,
                    tenant,
                    sla.priority,
                    sla.ticket_type,
                    view.status.value,
                    _seconds(view.target),
                    view.used.total_seconds(),
                    clock.running_since is not None,
                    view.deadline,
                    view.started_at,
                    view.met_at,
                    view.late,
                    view.pauses,
                    as_of,
                    version,
                    view.cycle,
                )
            )
        await conn.executemany(
            "INSERT INTO sla_clocks VALUES "
            "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18) "
            "ON CONFLICT (ticket_id, metric) DO UPDATE SET policy = $3, tenant = $4, "
            "priority = $5, ticket_type = $6, status = $7, target_seconds = $8, "
            "used_seconds = $9, running = $10, deadline = $11, started_at = $12, met_at = $13, "
            "late = $14, pauses = $15, as_of = $16, ticket_version = $17, cycle = $18",
            records,
        )
        # Earlier cycles (reopens, periodic updates) keep their outcome, each counted apart.
        await conn.execute("DELETE FROM sla_clock_cycles WHERE ticket_id = $1", ticket_id)
        await conn.executemany(
            "INSERT INTO sla_clock_cycles VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
            [
                (
                    ticket_id,
                    metric.value,
                    ended.cycle,
                    sla.policy.id,
                    tenant,
                    sla.priority,
                    ended.started_at,
                    ended.met_at,
                    ended.deadline,
                    ended.used.total_seconds(),
                    _seconds(ended.target),
                    ended.late,
                    ended.breached_at is not None,
                )
                for metric, clock in sla.clocks.items()
                for ended in clock.earlier
            ],
        )
        # Timers and actions follow the clocks: what was armed before is replaced by what
        # holds now. Each remembers the trace that armed it: when it fires, its trace links back.
        traceparent = current_traceparent()
        await conn.execute("DELETE FROM sla_timers WHERE ticket_id = $1", ticket_id)
        timers = sla.timers()
        await conn.execute(
            queries.ARM_TIMERS,
            ticket_id,
            [t.metric.value for t in timers],
            [t.kind for t in timers],
            [t.threshold for t in timers],
            [t.due for t in timers],
            traceparent,
        )
        await conn.execute("DELETE FROM sla_actions WHERE ticket_id = $1", ticket_id)
        actions = sla.actions()
        await conn.execute(
            queries.ARM_ACTIONS,
            ticket_id,
            [a.kind.value for a in actions],
            [a.level for a in actions],
            [a.due for a in actions],
            [a.command for a in actions],
            [json.dumps(a.body, ensure_ascii=False) for a in actions],
            traceparent,
        )

    @staticmethod
    async def _write_ticket(
        conn: Connection, ticket_id: UUID, facts: TicketFacts, policy: str, tenant: str
    ) -> None:
        """The ticket's name, assignee and state for the read API's rows and case-number
        lookups, in the transaction that writes its clocks (so both say the same).

        ``case_number`` is indexed, not UNIQUE: ticket-api never issues a number twice, but a
        duplicate in the stream (say, ticket-api's store wiped while this database was kept)
        must not park that ticket's events and lose its clocks; lookups take the newest.
        """
        assignee = facts.assignee
        await conn.execute(
            "INSERT INTO sla_tickets (ticket_id, case_number, title, tenant, policy, priority, "
            "assignee_id, assignee_name, state, opened_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
            "ON CONFLICT (ticket_id) DO UPDATE SET case_number = $2, title = $3, tenant = $4, "
            "policy = $5, priority = $6, assignee_id = $7, assignee_name = $8, state = $9, "
            "opened_at = $10, updated_at = $11",
            ticket_id,
            facts.case_number,
            facts.title,
            tenant,
            policy,
            facts.priority,
            assignee.id if assignee else None,
            assignee.name if assignee else None,
            facts.state.value,
            facts.opened_at,
            facts.updated_at,
        )


def replay(
    policies: Mapping[str, SupportPolicy], rows: Sequence[Mapping[str, Any]]
) -> TicketSla | None:
    """A ticket's clocks rebuilt from its stored events (``sla_ticket_events`` rows in order);
    None while its Opened event is missing or its policy unknown."""
    if not rows or rows[0]["name"] != "ticket.opened" or rows[0]["policy"] not in policies:
        return None
    # the promise made when the ticket was opened governs it to the end (policy versions)
    policy = policies[rows[0]["policy"]].in_force(rows[0]["at"])
    sla: TicketSla | None = None
    for row in rows:
        raw = row["payload"]
        payload = EVENTS[row["name"]].model_validate(
            json.loads(raw) if isinstance(raw, str) else raw
        )
        if isinstance(payload, te.Opened):
            sla = TicketSla.opened(policy, payload, row["at"])
        elif sla is not None:
            sla.apply(payload, row["at"])
    return sla


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()
