"""The live queue: open tickets by the business time their most urgent clock has left.

long: both sources must rank rows by the same key and build the same row, and the first page's
early stop depends on that key; kept together so the two cannot drift.

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

import heapq
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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

RUNNING = ("c.running", "c.deadline IS NOT NULL")
RUNNING_FIRST = OPEN_CLOCKS + " ORDER BY c.deadline, c.ticket_id, c.metric"
"""Running clocks by deadline, read off the index ``sla_clocks_running_order`` (a running
clock always has a deadline): on one calendar, the business time a running clock has left is
a non-decreasing function of its deadline, so this is the order of time left too; across
calendars ``FirstPage`` bounds it."""

STOPPED = ("NOT c.running", "c.status IN ('paused', 'breached')")  # the index's own words
PAUSED_FIRST = OPEN_CLOCKS + " ORDER BY c.target_seconds - c.used_seconds, c.ticket_id, c.metric"
"""Stopped clocks by the time they have left, which stands still (``sla_clocks_paused_order``)."""

RUNNING_POLICIES = "SELECT array_agg(DISTINCT policy) FROM sla_clocks WHERE running"
"""The policies of running clocks: their calendars bound the running scan."""

OPEN_COUNT = """
SELECT count(*) FROM sla_tickets t WHERE EXISTS (
    SELECT 1 FROM sla_clocks c WHERE c.ticket_id = t.ticket_id{where})
"""
"""How many tickets of the queue's filters are open."""

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


def signed_between(calendar: BusinessCalendar, now: datetime, then: datetime) -> float:
    """Business seconds from ``now`` to ``then`` (negative when ``then`` is past)."""
    if then >= now:
        return calendar.between(now, then).total_seconds()
    return -calendar.between(then, now).total_seconds()


def calendars_of(policies: Iterable[SupportPolicy]) -> list[BusinessCalendar]:
    """Every calendar a clock of these policies may count on (each target, under each
    modality), once each."""
    found: dict[int, BusinessCalendar] = {}
    for policy in policies:
        targets = [k.decision for k in policy.ticket_types if k.decision is not None]
        targets += [t for p in policy.priorities for t in p.targets.values()]
        for target in targets:
            for modality in [None, *(m.id for m in policy.modalities)]:
                calendar = policy.clock(target, modality)
                found[id(calendar)] = calendar
    return list(found.values())


Key = tuple[float, float, UUID]
"""A clock's place in the queue: business seconds left, its deadline (a stopped clock's is
infinitely far), the ticket (as PostgreSQL orders UUIDs: by their bytes)."""

Fetch = Callable[[int], Awaitable[Sequence[Row]]]
"""The next rows of a scan (at most that many; fewer once it is exhausted)."""


@dataclass
class FirstPage:
    """The first ``size`` tickets of the live queue, from two scans the database orders and
    stops early (no need to move every open clock to now at 10,000 open tickets).

    A ticket's row is its clock with the least business time left, so the first ``size``
    tickets are the first ``size`` distinct tickets in the order of clocks by ``Key``. Stopped
    clocks come by time left (``PAUSED_FIRST``): the scan stops at the first one past the
    ``size``-th key found so far. Running clocks come by deadline (``RUNNING_FIRST``); a
    running clock's time left is at least the least business time from now to its deadline
    on any calendar its policy's clocks count on (``bounds``), a bound that grows with the
    deadline: the scan stops at the first clock whose bound is past the ``size``-th key. Only
    the clocks read are moved to now, and how long each may tick is worked out for the rows
    shown only.
    """

    policies: Mapping[str, SupportPolicy]
    now: datetime
    size: int
    bounds: list[BusinessCalendar] = field(default_factory=list)
    best: dict[UUID, tuple[Key, Row, BusinessCalendar, SupportPolicy, float]] = field(
        default_factory=dict
    )
    _calendars: dict[tuple[Any, ...], BusinessCalendar | None] = field(default_factory=dict)
    _least: dict[datetime, float] = field(default_factory=dict)

    def limit(self) -> Key | None:
        """The ``size``-th key so far (None while fewer tickets were seen): nothing past it can
        make the page any more."""
        if len(self.best) < self.size:
            return None
        return heapq.nsmallest(self.size, (b[0] for b in self.best.values()))[-1]

    def offer(self, r: Row) -> None:
        """Keep a clock row when it is its ticket's most urgent so far."""
        policy = self.policies.get(r["policy"])
        if policy is None or r["target_seconds"] is None:
            return
        key = (r["policy"], r["metric"], r["priority"], r["ticket_type"], r["modality"])
        if key not in self._calendars:
            self._calendars[key] = calendar_of(policy, r)
        calendar = self._calendars[key]
        if calendar is None:
            return
        used = r["used_seconds"]
        if r["running"]:
            used += calendar.between(r["as_of"], self.now).total_seconds()
        remaining = r["target_seconds"] - used
        deadline = r["deadline"].timestamp() if r["running"] else math.inf
        place = (remaining, deadline, r["ticket_id"])
        held = self.best.get(r["ticket_id"])
        if held is None or place < held[0]:
            self.best[r["ticket_id"]] = (place, r, calendar, policy, remaining)

    def past_stopped(self, r: Row, limit: Key) -> bool:
        left = r["target_seconds"] - r["used_seconds"]
        return (left, math.inf, r["ticket_id"]) > limit

    def past_running(self, r: Row, limit: Key) -> bool:
        deadline: datetime = r["deadline"]
        least = self._least.get(deadline)
        if least is None:
            least = min(signed_between(c, self.now, deadline) for c in self.bounds)
            self._least[deadline] = least
        return (least, deadline.timestamp(), r["ticket_id"]) > limit

    async def scan(self, fetch: Fetch, past: Callable[[Row, Key], bool]) -> None:
        """Offer rows until one is past the limit (checked against the limit at the start of
        each batch: an older limit is only larger) or the scan is exhausted."""
        batch = 2 * self.size + 16
        while True:
            limit = self.limit()
            records = await fetch(batch)
            for r in records:
                if limit is not None and past(r, limit):
                    return
                self.offer(r)
            if len(records) < batch:
                return

    def rows(self) -> list[QueueRow]:
        order = sorted(self.best.values(), key=lambda b: b[0])[: self.size]
        return [
            queue_row(r, remaining, calendar, policy, self.now)
            for _, r, calendar, policy, remaining in order
        ]


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
