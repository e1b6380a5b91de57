"""The live queue: open tickets by the business time their most urgent clock has left.

A ticket waits on several clocks (first response, resolution, update); a supervisor asks
"which promise breaks first", so each ticket is one row holding its clock with the least
business time left, running or paused, met ones aside. Two sources give the same rows:

- **now**, from the projection's stored clock rows (as of each ticket's last event), moved to
  the clock's ``now()`` on the target's own calendar: a running clock has used
  ``used_seconds + calendar.between(as_of, now)``. The calendar depends on the Opened event's
  modality, read from the stored event beside the row (one index lookup per ticket);
- **as of an instant**, by replaying each ticket's stored events up to that instant
  (``projection.replay``): what the board showed then, whatever happened since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any
from uuid import UUID

from contracts.calendar import BusinessCalendar
from contracts.policy import SupportPolicy
from contracts.vocabulary import Metric
from sla_monitor.api.shape import Row
from sla_monitor.clocks import ClockStatus
from sla_monitor.projection import replay
from sla_monitor.queries import Where
from sla_monitor.tickets import ticket_facts

CLOSED_STATES = ("resolved", "closed")
WAITING = ("running", "paused", "breached")
"""Clock statuses a queue row can show: a met, pending or not-applicable clock waits on
nobody."""

OPEN_CLOCKS = """
SELECT c.ticket_id, c.metric, c.policy, c.tenant, c.priority, c.ticket_type, c.status,
       c.target_seconds, c.used_seconds, c.running, c.deadline, c.as_of,
       t.case_number, t.title, t.assignee_id, t.assignee_name, t.state,
       e.payload->>'modality' AS modality
FROM sla_clocks c JOIN sla_tickets t USING (ticket_id)
JOIN sla_ticket_events e ON e.ticket_id = c.ticket_id AND e.name = 'ticket.opened'{where}
"""
"""Clocks that wait on someone, of tickets still open, with their ticket's names."""

EVENTS_UNTIL = (
    "SELECT ticket_id, version, name, payload, at, policy, tenant FROM sla_ticket_events"
    "{where} ORDER BY ticket_id, version"
)
"""Every stored event up to an instant, ticket by ticket (the time-travelling queue)."""


@dataclass(frozen=True)
class Filters:
    """What the board narrows the queue to; ``None`` is everything."""

    policy: str | None = None
    tenant: str | None = None
    priority: str | None = None
    agent: str | None = None

    def where(self, scope: list[str] | None) -> Where:
        """The SQL conditions of the filters and the caller's tenant scope (ADR 0014)."""
        return Where(
            ("c.policy = {}", self.policy),
            ("c.tenant = ANY({})", scope),
            ("c.priority = {}", self.priority),
            ("t.assignee_id = {}", self.agent),
        )

    def admits(self, row: QueueRow) -> bool:
        return all(
            wanted is None or wanted == value
            for wanted, value in (
                (self.policy, row.policy),
                (self.tenant, row.tenant),
                (self.priority, row.priority),
                (self.agent, row.assignee_id),
            )
        )


@dataclass(frozen=True)
class QueueRow:
    """One open ticket and its most urgent clock at an instant."""

    ticket_id: UUID
    case_number: str
    title: str
    tenant: str
    policy: str
    priority: str
    assignee_id: str | None
    assignee_name: str | None
    state: str
    metric: str
    target: float
    remaining: float
    """Business seconds left (negative: how far past the target)."""
    running: bool
    ticking_for: float
    """Wall-clock seconds the countdown may go on ticking from the instant shown before the
    desk closes (0 when paused or closed): a browser counts down only that far by itself."""
    at_risk_share: float

    @property
    def level(self) -> str:
        """``breached``, ``at-risk`` (past the policy's first warning) or ``on-time``."""
        if self.remaining <= 0:
            return "breached"
        if self.remaining <= self.target * (1 - self.at_risk_share):
            return "at-risk"
        return "on-time"


def ticking_for(calendar: BusinessCalendar, now: datetime) -> float:
    """How long business time keeps passing from ``now`` (until the desk next closes)."""
    if not calendar.is_open(now):
        return 0.0
    spans = calendar.open_intervals(now, now + timedelta(days=8))
    return (spans[0][1] - now).total_seconds() if spans else 0.0


def warning_share(policy: SupportPolicy) -> float:
    return policy.sla.warnings[0] if policy.sla.warnings else 0.75


def calendar_of(policy: SupportPolicy, row: Row) -> BusinessCalendar | None:
    """The calendar the row's clock counts on (its target's, under the ticket's modality)."""
    target = policy.target(
        Metric(row["metric"]), priority=row["priority"], ticket_type=row["ticket_type"]
    )
    if target is None:
        return None
    try:
        return policy.clock(target, row["modality"])
    except KeyError:  # a modality the policy no longer has: its business calendar
        return policy.clock(target, None)


def live_rows(
    policies: Mapping[str, SupportPolicy],
    records: Iterable[Row],
    now: datetime,
    *,
    page: int | None = None,
) -> list[QueueRow]:
    """Queue rows from stored clock rows (``OPEN_CLOCKS``), moved to ``now``; most urgent
    first. With ``page``, only that many (how long each may tick is worked out for them only:
    at 10,000 open tickets it is the dearest step)."""
    best: dict[UUID, tuple[float, Row, BusinessCalendar, SupportPolicy]] = {}
    calendars: dict[tuple[Any, ...], BusinessCalendar | None] = {}
    for r in records:
        policy = policies.get(r["policy"])
        if policy is None or r["target_seconds"] is None:
            continue
        key = (r["policy"], r["metric"], r["priority"], r["ticket_type"], r["modality"])
        if key not in calendars:
            calendars[key] = calendar_of(policy, r)
        calendar = calendars[key]
        if calendar is None:
            continue
        used = r["used_seconds"]
        if r["running"]:
            used += calendar.between(r["as_of"], now).total_seconds()
        remaining = r["target_seconds"] - used
        held = best.get(r["ticket_id"])
        if held is None or remaining < held[0]:
            best[r["ticket_id"]] = (remaining, r, calendar, policy)
    order = sorted(best.values(), key=lambda b: (b[0], b[1]["case_number"]))
    return [
        queue_row(r, remaining, calendar, policy, now)
        for remaining, r, calendar, policy in order[:page]
    ]


def queue_row(
    r: Row, remaining: float, calendar: BusinessCalendar, policy: SupportPolicy, now: datetime
) -> QueueRow:
    return QueueRow(
        ticket_id=r["ticket_id"],
        case_number=r["case_number"],
        title=r["title"],
        tenant=r["tenant"],
        policy=r["policy"],
        priority=r["priority"],
        assignee_id=r["assignee_id"],
        assignee_name=r["assignee_name"],
        state=r["state"],
        metric=r["metric"],
        target=r["target_seconds"],
        remaining=remaining,
        running=r["running"],
        ticking_for=ticking_for(calendar, now) if r["running"] else 0.0,
        at_risk_share=warning_share(policy),
    )


def ranked(rows: Iterable[QueueRow]) -> list[QueueRow]:
    """Least time left first; a tie goes to the older case number."""
    return sorted(rows, key=lambda r: (r.remaining, r.case_number))


@dataclass(frozen=True)
class Position:
    """Where in the stored history a view stands: its last event's instant, and how many."""

    events: int
    last_at: datetime | None
    last_version: int | None = None


def replayed_rows(
    policies: Mapping[str, SupportPolicy], events: Sequence[Row], as_of: datetime
) -> tuple[list[QueueRow], Position]:
    """The queue as it stood at ``as_of``, from stored events with ``at <= as_of`` (ordered by
    ticket and version), and the position in the history that was used."""
    rows: list[QueueRow] = []
    for _, group in groupby(events, key=lambda e: e["ticket_id"]):
        history = [dict(e) for e in group]
        rows.extend(replayed_row(policies, history, as_of))
    last = max((e["at"] for e in events), default=None)
    return ranked(rows), Position(len(events), last)


def replayed_row(
    policies: Mapping[str, SupportPolicy], history: list[dict[str, Any]], as_of: datetime
) -> list[QueueRow]:
    """One ticket's queue row at ``as_of`` (none when it was closed or waited on nobody)."""
    sla, facts = replay(policies, history), ticket_facts(history)
    if sla is None or facts is None or facts.state.value in CLOSED_STATES:
        return []
    views = [
        v
        for v in sla.view(as_of)
        if v.status.value in WAITING and v.target is not None and v.remaining is not None
    ]
    if not views:
        return []
    view = min(views, key=lambda v: v.remaining or timedelta(0))
    clock = sla.clocks[view.metric]
    running = clock.running_since is not None and view.status is not ClockStatus.PAUSED
    assert view.target is not None and view.remaining is not None and clock.calendar
    return [
        QueueRow(
            ticket_id=history[0]["ticket_id"],
            case_number=facts.case_number,
            title=facts.title,
            tenant=str(history[0]["tenant"]),
            policy=sla.policy.id,
            priority=sla.priority,
            assignee_id=facts.assignee.id if facts.assignee else None,
            assignee_name=facts.assignee.name if facts.assignee else None,
            state=facts.state.value,
            metric=view.metric.value,
            target=view.target.total_seconds(),
            remaining=view.remaining.total_seconds(),
            running=running,
            ticking_for=ticking_for(clock.calendar, as_of) if running else 0.0,
            at_risk_share=warning_share(sla.policy),
        )
    ]
