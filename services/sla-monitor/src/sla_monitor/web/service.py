"""What the board reads, one keyword-only function per view, each within the caller's scope.

Every statement carries the tenant scope of the signed-in person (``Principal.scope``, the
read API's rule, ADR 0014): an agent's queue, filters, stream, ticket page and compliance hold
only the tenants they serve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from contracts.events import ticket as te
from contracts.policy import SupportPolicy
from sla_monitor import queries
from sla_monitor.api.deps import SlaReader, local_zone, ticket_id_of
from sla_monitor.api.reports import COMPLIANCE_METRICS, groups
from sla_monitor.clocks import ClockView, TicketSla
from sla_monitor.projection import replay
from sla_monitor.queries import Where
from sla_monitor.receipt import build_receipt
from sla_monitor.receipt_view import receipt_text
from sla_monitor.tickets import TicketFacts, ticket_facts
from sla_monitor.web.queue import (
    CLOSED_STATES,
    EVENTS_UNTIL,
    OPEN_CLOCKS,
    OPEN_COUNT,
    PAUSED_FIRST,
    RUNNING,
    RUNNING_FIRST,
    RUNNING_POLICIES,
    STOPPED,
    WAITING,
    Filters,
    FirstPage,
    Position,
    QueueRow,
    calendars_of,
    live_rows,
    replayed_rows,
)

Scope = list[str] | None


def open_where(filters: Filters, scope: Scope) -> Where:
    where = filters.where(scope)
    where.add("t.state <> ALL({})", list(CLOSED_STATES))
    where.add("c.status = ANY({})", list(WAITING))
    where.parts.append("c.target_seconds IS NOT NULL")  # no target, no time left to rank by
    return where


async def queue_now(
    *, reader: SlaReader, scope: Scope, filters: Filters, page: int
) -> tuple[list[QueueRow], int]:
    """The first ``page`` open tickets of the scope by their most urgent clock, as of the
    clock's now, and how many tickets are open in all.

    The database orders the clocks and the scans stop as soon as nothing further can make the
    page (``FirstPage``): a few hundred rows are read and moved to now, however long the queue.
    """
    where = open_where(filters, scope)
    async with (
        reader.db().acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        # Ordered by deadline, the planner would rather sort whole groups of one deadline
        # (every ticket opened overnight is due at the desk's opening) than read the index
        # that is already in the page's order.
        await conn.execute("SET LOCAL enable_incremental_sort = off")
        ids = [filters.policy] if filters.policy else await conn.fetchval(RUNNING_POLICIES)
        policies = [reader.policies[i] for i in ids or () if i in reader.policies]
        first = FirstPage(reader.policies, reader.clock.now(), page, calendars_of(policies))
        for sql, past in (
            (PAUSED_FIRST.format(where=where.sql(*STOPPED)), first.past_stopped),
            (RUNNING_FIRST.format(where=where.sql(*RUNNING)), first.past_running),
        ):
            cursor = await conn.cursor(sql, *where.args)
            await first.scan(cursor.fetch, past)
        count = OPEN_COUNT.format(where=" AND ".join(["", *where.parts]))
        total: int = await conn.fetchval(count, *where.args)
    return first.rows(), total


async def queue_rows(
    *, reader: SlaReader, scope: Scope, filters: Filters, ticket_ids: list[UUID]
) -> dict[UUID, QueueRow]:
    """These tickets' queue rows now, in one query; a ticket that left the queue (closed,
    met, filtered out) has none."""
    where = open_where(filters, scope).add("c.ticket_id = ANY({})", ticket_ids)
    async with reader.db().acquire() as conn:
        records = await conn.fetch(OPEN_CLOCKS.format(where=where.sql()), *where.args)
    return {row.ticket_id: row for row in live_rows(reader.policies, records, reader.clock.now())}


async def queue_as_of(
    *, reader: SlaReader, scope: Scope, filters: Filters, as_of: datetime
) -> tuple[list[QueueRow], Position]:
    """The queue as it stood at ``as_of``, replayed from the events stored up to then."""
    where = Where(("at <= {}", as_of), ("policy = {}", filters.policy), ("tenant = ANY({})", scope))
    async with reader.db().acquire() as conn:
        events = await conn.fetch(EVENTS_UNTIL.format(where=where.sql()), *where.args)
    rows, position = replayed_rows(reader.policies, events, as_of)
    return [r for r in rows if filters.admits(r)], position


async def choices(*, reader: SlaReader, scope: Scope) -> dict[str, list[Any]]:
    """What the filters offer: the policies, priorities, tenants and agents of the scope."""
    where = Where(("tenant = ANY({})", scope))
    async with reader.db().acquire() as conn:
        tenants = await conn.fetch(
            f"SELECT DISTINCT tenant FROM sla_tickets{where.sql()} ORDER BY tenant", *where.args
        )
        agents = await conn.fetch(
            "SELECT DISTINCT assignee_id, assignee_name FROM sla_tickets"
            f"{where.sql('assignee_id IS NOT NULL')} ORDER BY assignee_name",
            *where.args,
        )
    priorities = sorted({p.id for policy in reader.policies.values() for p in policy.priorities})
    return {
        "policies": sorted(reader.policies),
        "priorities": priorities,
        "tenants": [r["tenant"] for r in tenants],
        "agents": [(r["assignee_id"], r["assignee_name"]) for r in agents],
    }


@dataclass(frozen=True)
class Escalation:
    at: datetime
    from_level: str
    to_level: str
    reason: str
    etr: datetime


@dataclass(frozen=True)
class TicketPage:
    """One ticket as the board shows it, now or as of an instant."""

    ticket_id: UUID
    tenant: str
    facts: TicketFacts
    sla: TicketSla
    views: list[ClockView]
    escalations: list[Escalation]
    receipt: str
    position: Position
    policy: SupportPolicy
    zone: ZoneInfo


async def ticket_page(
    *, reader: SlaReader, scope: Scope, ref: str, as_of: datetime | None, english: bool
) -> TicketPage | None:
    """The ticket a reference names within the scope, from its events up to ``as_of`` (all of
    them when None); None when the caller cannot see it or nothing was stored by then."""
    async with reader.db().acquire() as conn:
        found = await ticket_id_of(conn, ref, scope)
        rows = (
            [] if found is None else [dict(r) for r in await conn.fetch(queries.EVENTS_OF, found)]
        )
    if found is None or not rows or (scope is not None and rows[0]["tenant"] not in scope):
        return None
    if as_of is not None:
        rows = [r for r in rows if r["at"] <= as_of]
    sla, facts = replay(reader.policies, rows), ticket_facts(rows)
    if sla is None or facts is None:
        return None
    now = as_of or reader.clock.now()
    receipt = build_receipt(reader.policies, rows, now)
    names = {
        "ticket_id": str(found),
        "case_number": facts.case_number,
        "title": facts.title,
        "tenant": rows[0]["tenant"],
        "state": facts.state.value,
    }
    return TicketPage(
        ticket_id=found,
        tenant=str(rows[0]["tenant"]),
        facts=facts,
        sla=sla,
        views=[v for v in sla.view(now) if v.status.value != "not_applicable"],
        escalations=escalations(rows),
        receipt="" if receipt is None else receipt_text(receipt, names, english=english),
        position=Position(len(rows), rows[-1]["at"], rows[-1]["version"]),
        policy=sla.policy,
        zone=local_zone(sla.policy),
    )


def escalations(rows: Sequence[dict[str, Any]]) -> list[Escalation]:
    """The ticket's escalations with the ETR each promised, from its stored events."""
    found = []
    for row in rows:
        if row["name"] == te.Escalated.event_name:
            raw = row["payload"]
            event = (
                te.Escalated.model_validate_json(raw)
                if isinstance(raw, str)
                else (te.Escalated.model_validate(raw))
            )
            found.append(
                Escalation(
                    row["at"], str(event.from_level), str(event.to_level), event.reason, event.etr
                )
            )
    return found


async def compliance(
    *, reader: SlaReader, scope: Scope, policy: str | None, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Per policy and priority: clocks met in ``[since, until)`` and on time (the read API's
    compliance query and grouping)."""
    where = Where(
        ("met_at >= {}", since),
        ("met_at < {}", until),
        ("policy = {}", policy),
        ("tenant = ANY({})", scope),
    )
    metrics = where.param(list(COMPLIANCE_METRICS))
    sql = queries.COMPLIANCE.format(where=where.sql("status = 'met'", f"metric = ANY({metrics})"))
    async with reader.db().acquire() as conn:
        rows = await conn.fetch(sql, *where.args)
    return groups(reader, rows)
