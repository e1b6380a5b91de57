"""The receipt of a ticket's SLA clocks: every second each clock counted, and why the rest did not.

A support manager in a penalty dispute needs more than "used 5 h 30 min": which stretches of
office time counted, and for each stretch that did not, its reason — the night, a weekend, a
holiday by name, the vendor's own closure, a pause with who caused it and why — plus every
retarget on a priority change. No help desk explains its deadlines; this one does, and its
total is the clock's used time to the microsecond (checked here, on every receipt).

The receipt is built by replaying the ticket's stored events with ``TicketSla`` itself, not by
a second implementation of the rules: between two consecutive events every clock is either
running (``running_since``) or not, in a known cycle (``SlaClock.cycle``); a running stretch is
split with the clock's own calendar (``open_intervals``) into counted spans, and what lies
between them is explained by looking at the calendar (``closure_reason``, the day's hours).
Pure: no I/O, no clock of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts.events import EVENTS, Actor, EventPayload
from contracts.events import ticket as te
from contracts.policy import SupportPolicy
from contracts.vocabulary import Metric, TicketState
from sla_monitor.clocks import ZERO, ClockStatus, SlaClock, TicketSla
from sla_monitor.receipt_lines import Counted, Line, Retarget, Skipped, Why, add_line, explain


@dataclass
class CycleReceipt:
    """One cycle of one metric: its lines in time order, and its outcome."""

    metric: Metric
    cycle: int
    started_at: datetime
    lines: list[Line] = field(default_factory=list)
    used: timedelta = ZERO
    target: timedelta | None = None
    status: ClockStatus = ClockStatus.RUNNING
    met_at: datetime | None = None
    deadline: datetime | None = None
    late: bool = False

    @property
    def total(self) -> timedelta:
        """The sum of the counted spans (equal to ``used``, checked when built)."""
        return sum((line.business for line in self.lines if isinstance(line, Counted)), ZERO)

    @property
    def ended_at(self) -> datetime:
        """Where the measured period ends: when met, else the end of its last line."""
        if self.met_at is not None:
            return self.met_at
        ends = [line.end for line in self.lines if not isinstance(line, Retarget)]
        return max(ends, default=self.started_at)


@dataclass(frozen=True)
class Receipt:
    """Every clock of a ticket, cycle by cycle, as of ``as_of``."""

    policy: SupportPolicy
    priority: str
    ticket_type: str
    time_zone: ZoneInfo
    as_of: datetime
    cycles: list[CycleReceipt]


class ReceiptMismatch(AssertionError):
    """A receipt whose counted spans do not add up to the clock's used time: a bug, never to be
    shown as if it explained the clock."""


@dataclass(frozen=True)
class _Cause:
    state: TicketState
    by: Actor
    because: str


class _Builder:
    """Walks the ticket's events once, writing each live clock's stretches into its cycle."""

    def __init__(self, sla: TicketSla) -> None:
        self.sla = sla
        self.cycles: dict[tuple[Metric, int], CycleReceipt] = {}
        self.idle: dict[Metric, tuple[int, list[Skipped]]] = {}
        self.causes: dict[TicketState, _Cause] = {}

    def book(self, metric: Metric, clock: SlaClock) -> CycleReceipt:
        key = (metric, clock.cycle)
        if key not in self.cycles:
            assert clock.started_at is not None
            self.cycles[key] = CycleReceipt(metric, clock.cycle, clock.started_at)
        return self.cycles[key]

    def stretch(self, start: datetime, end: datetime) -> None:
        """What every clock did in ``[start, end)``, where no event changed it."""
        if end <= start:
            return
        for metric, clock in self.sla.clocks.items():
            if clock.started_at is None:
                continue  # pending, or never applicable: nothing is measured yet
            if clock.met_at is not None or clock.stopped:
                # Not part of the period, unless the same cycle comes back (a reopen that
                # resumes): then the wait in between is explained as a pause.
                cycle, waiting = self.idle.get(metric, (clock.cycle, []))
                if cycle != clock.cycle:
                    waiting = []
                waiting.append(self.pause(start, end))
                self.idle[metric] = (clock.cycle, waiting)
                continue
            receipt = self.book(metric, clock)
            cycle, waiting = self.idle.pop(metric, (0, []))
            for wait in waiting if cycle == clock.cycle else []:
                add_line(receipt.lines, wait)
            if clock.running_since is None:
                add_line(receipt.lines, self.pause(start, end))
            elif clock.calendar is None:
                add_line(receipt.lines, Skipped(start, end, Why.NO_TARGET))
            else:
                for line in explain(clock.calendar, start, end):
                    add_line(receipt.lines, line)

    def pause(self, start: datetime, end: datetime) -> Skipped:
        cause = self.causes.get(self.sla.state)
        if cause is None:
            return Skipped(start, end, Why.PAUSE, state=self.sla.state)
        return Skipped(start, end, Why.PAUSE, state=cause.state, by=cause.by, because=cause.because)

    def apply(self, event: EventPayload, at: datetime) -> None:
        """Apply one event, noting why later pauses happen and what a retarget changed."""
        if isinstance(event, te.AwaitingCustomer):
            self.causes[TicketState.AWAITING_CUSTOMER] = _Cause(
                TicketState.AWAITING_CUSTOMER, event.actor, event.request
            )
        elif isinstance(event, te.Resolved):
            self.causes[TicketState.RESOLVED] = _Cause(
                TicketState.RESOLVED, event.actor, event.summary
            )
        before = {m: c.target for m, c in self.sla.clocks.items()}
        priority = self.sla.priority
        self.sla.apply(event, at)
        if not isinstance(event, te.Classified):
            return
        for metric, clock in self.sla.clocks.items():
            target = before[metric]
            live = clock.started_at is not None and clock.met_at is None and not clock.stopped
            if live and (target != clock.target or priority != self.sla.priority):
                self.book(metric, clock).lines.append(
                    Retarget(
                        at=at,
                        from_priority=priority,
                        to_priority=self.sla.priority,
                        from_target=target,
                        to_target=clock.target,
                        kept=clock.used(at),
                        deadline=clock.deadline(),
                        reason=event.reason,
                    )
                )

    def finish(self, as_of: datetime) -> list[CycleReceipt]:
        """Close every cycle with its outcome, checking each adds up to its used time."""
        done: list[CycleReceipt] = []
        views = {view.metric: view for view in self.sla.view(as_of)}
        for metric, clock in self.sla.clocks.items():
            for ended in clock.earlier:
                if ended.started_at is None:
                    continue
                receipt = self.cycles.get((metric, ended.cycle)) or CycleReceipt(
                    metric, ended.cycle, ended.started_at
                )
                receipt.used, receipt.target, receipt.late = ended.used, ended.target, ended.late
                receipt.met_at, receipt.deadline = ended.met_at, ended.deadline
                receipt.status = _ended_status(ended.met_at, ended.breached_at)
                done.append(receipt)
            if clock.started_at is None:
                continue
            view = views[metric]
            receipt = self.cycles.get((metric, clock.cycle)) or CycleReceipt(
                metric, clock.cycle, clock.started_at
            )
            receipt.used, receipt.target, receipt.late = view.used, view.target, view.late
            receipt.met_at, receipt.deadline, receipt.status = (
                view.met_at,
                view.deadline,
                view.status,
            )
            done.append(receipt)
        for receipt in done:
            if receipt.total != receipt.used:
                raise ReceiptMismatch(
                    f"{receipt.metric.value} cycle {receipt.cycle}: counted spans add up to "
                    f"{receipt.total}, the clock used {receipt.used}"
                )
        return done


def build_receipt(
    policies: Mapping[str, SupportPolicy], rows: Sequence[Mapping[str, Any]], as_of: datetime
) -> Receipt | None:
    """The receipt of a ticket from its stored events (``sla_ticket_events`` rows in order), as
    of ``as_of`` (or its last event, if later); None while its Opened event is missing or its
    policy unknown, as for ``replay``."""
    if not rows or rows[0]["name"] != te.Opened.event_name or rows[0]["policy"] not in policies:
        return None
    policy = policies[rows[0]["policy"]].in_force(rows[0]["at"])  # as ``replay`` does
    events = list(_parsed(rows))
    first, opened_at = events[0]
    assert isinstance(first, te.Opened)
    builder = _Builder(TicketSla.opened(policy, first, opened_at))
    previous = opened_at
    for event, at in events[1:]:
        if isinstance(event, te.Opened):
            continue
        builder.stretch(previous, at)
        builder.apply(event, at)
        previous = max(previous, at)
    as_of = max(as_of, previous)
    builder.stretch(previous, as_of)
    sla = builder.sla
    zone = ZoneInfo(policy.calendars[policy.business_calendar].time_zone)
    return Receipt(policy, sla.priority, sla.ticket_type, zone, as_of, builder.finish(as_of))


def _ended_status(met_at: datetime | None, breached_at: datetime | None) -> ClockStatus:
    if met_at is not None:
        return ClockStatus.MET
    return ClockStatus.BREACHED if breached_at is not None else ClockStatus.NOT_APPLICABLE


def _parsed(rows: Sequence[Mapping[str, Any]]) -> Iterator[tuple[EventPayload, datetime]]:
    for row in rows:
        raw = row["payload"]
        payload = EVENTS[row["name"]].model_validate(
            json.loads(raw) if isinstance(raw, str) else raw
        )
        yield payload, row["at"]
