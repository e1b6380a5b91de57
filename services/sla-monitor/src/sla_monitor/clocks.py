"""SLA clocks: how much of each promise a ticket has used, and when it falls due.

Pure rules, no I/O and no clock of their own: a ``TicketSla`` is driven by the ticket's events
(with their timestamps) and asked about a given instant. Per metric (first response,
resolution, feature-request decision) a ``SlaClock`` keeps the business time already used,
its pauses and its target; so a pause never loses time, and a priority change mid-flight
recomputes the deadline from the new target while keeping what was used — the two things help
desks most often get wrong. What the policy asks to be done to the ticket is decided here
(``TicketSla.actions``) and worded in ``actions``.

long: one clock's moves (``SlaClock``) and the ticket events that cause them (``TicketSla``)
read side by side, as DOMAIN.md tells them; split by file, each rule would be half in each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from contracts.calendar import BusinessCalendar
from contracts.events import EventPayload
from contracts.events import ticket as te
from contracts.policy import SupportPolicy
from contracts.vocabulary import ClockStart, Metric, TicketState
from sla_monitor import actions
from sla_monitor.actions import Action, ActionKind

METRICS = (Metric.FIRST_RESPONSE, Metric.RESOLUTION, Metric.UPDATE, Metric.DECISION)
STARTED_BY_MESSAGES = (Metric.UPDATE,)
"""Clocks that start with the first public agent message, not with the ticket (002's agreed
frequency of updates): each later public message ends one period and starts the next."""
ZERO = timedelta(0)


class ClockStatus(StrEnum):
    NOT_APPLICABLE = "not_applicable"
    PENDING = "pending"
    """Not started yet (004 starts clocks once the ticket is assigned)."""
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    """Past its target and not met yet (running or paused)."""


@dataclass
class Pause:
    since: datetime
    until: datetime | None = None


@dataclass(frozen=True)
class CycleOutcome:
    """How an earlier cycle of a clock ended: a reopen (``on_reopen: restart``) or the next
    periodic update starts a new cycle, and the earlier one keeps its outcome (it counts in
    compliance on its own)."""

    cycle: int
    started_at: datetime | None
    met_at: datetime | None
    deadline: datetime | None
    used: timedelta
    target: timedelta | None
    late: bool
    breached_at: datetime | None
    pauses: int


@dataclass
class SlaClock:
    """One promise of one ticket: its target on its calendar, and the time used so far."""

    metric: Metric
    target: timedelta | None
    calendar: BusinessCalendar | None
    started_at: datetime | None = None
    running_since: datetime | None = None
    used_before: timedelta = ZERO
    """Business time used in earlier running spans (before the current one)."""
    met_at: datetime | None = None
    breached_at: datetime | None = None
    pauses: list[Pause] = field(default_factory=list)
    stopped: bool = False
    """Closed without being met (a ticket closed at the customer's request)."""
    met_deadline: datetime | None = None
    """The deadline the clock had when it last stopped running (shown for met clocks)."""
    cycle: int = 1
    """Which cycle this is: 1, then one more per restart (reopen, next periodic update)."""
    earlier: list[CycleOutcome] = field(default_factory=list)
    """The outcomes of the cycles before this one, oldest first."""

    @property
    def applicable(self) -> bool:
        return self.target is not None and self.calendar is not None

    def used(self, now: datetime) -> timedelta:
        """Business time used up to ``now``."""
        if self.running_since is None or self.calendar is None:
            return self.used_before
        return self.used_before + self.calendar.between(self.running_since, now)

    def deadline(self) -> datetime | None:
        """When the target is (or was) reached if the clock keeps running; None when paused."""
        if self.breached_at is not None:
            return self.breached_at
        if self.met_at is not None:
            return self.met_deadline
        if self.running_since is None or self.target is None or self.calendar is None:
            return None
        return self.calendar.add(self.running_since, max(self.target - self.used_before, ZERO))

    def status(self, now: datetime) -> ClockStatus:
        if not self.applicable:
            return ClockStatus.NOT_APPLICABLE
        if self.met_at is not None:
            return ClockStatus.MET
        if self.started_at is None or self.stopped:
            return ClockStatus.PENDING if not self.stopped else ClockStatus.NOT_APPLICABLE
        assert self.target is not None
        if self.used(now) >= self.target:
            return ClockStatus.BREACHED
        return ClockStatus.RUNNING if self.running_since is not None else ClockStatus.PAUSED

    # -- moves -----------------------------------------------------------------------------

    def start(self, at: datetime) -> None:
        if self.started_at is None and self.applicable:
            self.started_at = self.running_since = at

    def pause(self, at: datetime) -> None:
        if self.running_since is None or self.met_at is not None:
            return
        self._end_span(at)
        self.pauses.append(Pause(since=at))

    def resume(self, at: datetime) -> None:
        if self.started_at is None or self.running_since is not None or self.met_at is not None:
            return
        if self.pauses and self.pauses[-1].until is None:
            self.pauses[-1].until = at
        self.running_since = at

    def meet(self, at: datetime) -> None:
        if self.started_at is None or self.met_at is not None or not self.applicable:
            return
        if self.running_since is None:
            self.met_deadline = None  # met while paused: a paused clock has no deadline
        self._end_span(at)
        self.met_at = at

    def restart(self, at: datetime) -> None:
        """A new cycle from ``at`` (a reopen under ``on_reopen: restart``, the next periodic
        update); the cycle that ends keeps its outcome in ``earlier``."""
        if self.started_at is not None:
            self._end_span(at)
            self.earlier.append(self.outcome())
            self.cycle += 1
        self.started_at = self.running_since = at if self.applicable else None
        self.used_before = ZERO
        self.met_at = self.breached_at = self.met_deadline = None
        self.pauses = []
        self.stopped = False

    def outcome(self) -> CycleOutcome:
        """This cycle as it stands, once it no longer runs."""
        return CycleOutcome(
            cycle=self.cycle,
            started_at=self.started_at,
            met_at=self.met_at,
            deadline=self.deadline(),
            used=self.used_before,
            target=self.target,
            late=self.target is not None and self.used_before > self.target,
            breached_at=self.breached_at,
            pauses=len(self.pauses),
        )

    def reopen(self, at: datetime) -> None:
        """Continue with the time already used (a reopen under ``on_reopen: resume``)."""
        if self.met_at is None:
            return
        self.met_at = None
        self.pauses.append(Pause(since=at, until=at))
        self.running_since = at

    def retarget(
        self, target: timedelta | None, calendar: BusinessCalendar | None, at: datetime
    ) -> None:
        """A new target (priority or type changed): the time already used and pauses stay."""
        running = self.running_since is not None
        if running:
            self._end_span(at)
            self.running_since = at
        self.target, self.calendar = target, calendar
        if self.target is None or self.used_before < self.target:
            self.breached_at = None  # a longer target can un-breach what is still open
        if self.applicable and self.started_at is None and self.met_at is None and running:
            self.started_at = at

    def stop(self, at: datetime) -> None:
        """Closed without being met: the running span is banked first, so the time the clock
        used (and a breach that happened) survives the close."""
        if self.met_at is None:
            self._end_span(at)
            self.running_since = None
            self.stopped = True

    def _end_span(self, at: datetime) -> None:
        """Close the running span at ``at``: bank the time used, keep a breach that happened."""
        if self.running_since is None or self.calendar is None:
            return
        due = self.deadline()
        if self.breached_at is None and due is not None and due <= at:
            self.breached_at = due
        self.met_deadline = due
        self.used_before = self.used(at)
        self.running_since = None

    def due_at_share(self, share: float) -> datetime | None:
        """When ``share`` of the target is used, if that happens in the running span."""
        if self.running_since is None or self.target is None or self.calendar is None:
            return None
        point = self.target * share
        if point <= self.used_before:
            return None  # passed in an earlier span
        return self.calendar.add(self.running_since, point - self.used_before)


@dataclass(frozen=True)
class ClockView:
    """What a dashboard shows of one clock at an instant."""

    metric: Metric
    status: ClockStatus
    target: timedelta | None
    used: timedelta
    remaining: timedelta | None
    deadline: datetime | None
    started_at: datetime | None
    met_at: datetime | None
    late: bool
    pauses: int
    cycle: int = 1
    earlier: tuple[CycleOutcome, ...] = ()


@dataclass(frozen=True)
class Timer:
    """Something to do at ``due``: warn at a share of the target, or declare a breach."""

    metric: Metric
    kind: str  # "warning" or "breach"
    due: datetime
    threshold: float = 1.0


class TicketSla:
    """The SLA clocks of one ticket, driven by its events."""

    def __init__(
        self,
        policy: SupportPolicy,
        *,
        priority: str,
        ticket_type: str,
        modality: str | None,
        opened_at: datetime,
    ) -> None:
        self.policy = policy
        self.priority = priority
        self.ticket_type = ticket_type
        self.modality = modality
        self.state = TicketState.OPEN
        self.level = 1
        self.level_since: datetime | None = None
        self.awaiting_since: datetime | None = None
        self.resolved_at: datetime | None = None
        self.resolution: str | None = None
        self.unanswered_attempts = 0
        self.last_attempt_at: datetime | None = None
        self.clocks = {metric: SlaClock(metric, *self._target(metric)) for metric in METRICS}
        if policy.lifecycle.clock_starts is ClockStart.REGISTRATION:
            self._start_all(opened_at)

    @classmethod
    def opened(cls, policy: SupportPolicy, event: te.Opened, at: datetime) -> TicketSla:
        return cls(
            policy,
            priority=event.priority,
            ticket_type=event.ticket_type,
            modality=event.modality,
            opened_at=at,
        )

    def _target(self, metric: Metric) -> tuple[timedelta | None, BusinessCalendar | None]:
        target = self.policy.target(metric, priority=self.priority, ticket_type=self.ticket_type)
        if target is None:
            return None, None
        return (
            self.policy.duration(target, self.modality),
            self.policy.clock(target, self.modality),
        )

    def _start_all(self, at: datetime) -> None:
        for metric, clock in self.clocks.items():
            if metric not in STARTED_BY_MESSAGES:
                clock.start(at)
        if self.level_since is None:
            self.level_since = at  # level 1's time runs from when the clocks start

    # -- the ticket's events ---------------------------------------------------------------

    def apply(self, event: EventPayload, at: datetime) -> None:
        """Move the clocks for one ticket event (others are ignored)."""
        pausing = set(self.policy.lifecycle.pause_in)
        if isinstance(event, te.Assigned):
            if self.policy.lifecycle.clock_starts is ClockStart.ASSIGNMENT:
                self._start_all(at)
        elif isinstance(event, te.AgentReplied):
            if event.public:
                self.clocks[Metric.FIRST_RESPONSE].meet(at)
                self._customer_updated(at)
        elif isinstance(event, te.Escalated):
            self.level, self.level_since = event.to_level, at
        elif isinstance(event, te.ContactAttempted):
            self.unanswered_attempts, self.last_attempt_at = event.attempt, at
        elif isinstance(event, te.AwaitingCustomer):
            self._customer_updated(at)  # asking the customer is a message to them too
            self.state = TicketState.AWAITING_CUSTOMER
            self.awaiting_since, self.unanswered_attempts = at, 0
            if TicketState.AWAITING_CUSTOMER in pausing:
                self._pause_open_clocks(at)
        elif isinstance(event, te.CustomerReplied):
            self.unanswered_attempts = 0
            if self.state is TicketState.AWAITING_CUSTOMER:
                self.state = TicketState.IN_PROGRESS
                self._resume_open_clocks(at)
        elif isinstance(event, te.Resolved):
            self.state = TicketState.RESOLVED
            self.resolved_at, self.resolution = at, event.resolution.value
            # a solution or workaround reached the customer: that is also a response (000)
            self.clocks[Metric.FIRST_RESPONSE].meet(at)
            self.clocks[Metric.RESOLUTION].meet(at)
            self.clocks[Metric.UPDATE].meet(at)  # no update is owed on a resolved ticket
            if TicketState.RESOLVED in pausing:
                self._pause_open_clocks(at)
        elif isinstance(event, te.Reopened):
            self.state = TicketState.IN_PROGRESS
            self.resolved_at = self.resolution = None
            resolution = self.clocks[Metric.RESOLUTION]
            if self.policy.lifecycle.on_reopen == "restart":
                resolution.restart(at)
                # a new cycle has used nothing: the level's time to escalate starts again too
                self.level_since = at
            else:
                resolution.reopen(at)
            self._resume_open_clocks(at)
        elif isinstance(event, te.Closed):
            self.state = TicketState.CLOSED
            for clock in self.clocks.values():
                clock.stop(at)
        elif isinstance(event, te.Classified):
            self.priority, self.ticket_type = event.priority, event.ticket_type
            for metric, clock in self.clocks.items():
                clock.retarget(*self._target(metric), at)
                if (
                    clock.started_at is None
                    and self._started()
                    and metric not in STARTED_BY_MESSAGES
                ):
                    clock.start(at)
        elif isinstance(event, te.FeatureRequestReviewed):
            self.clocks[Metric.DECISION].meet(at)
        elif isinstance(event, te.InProgress) and self.state is TicketState.OPEN:
            self.state = TicketState.IN_PROGRESS

    def _customer_updated(self, at: datetime) -> None:
        """A public agent message: it ends the current update period and starts the next."""
        update = self.clocks[Metric.UPDATE]
        if not update.applicable or self.state in (TicketState.RESOLVED, TicketState.CLOSED):
            return
        if update.started_at is None:
            update.start(at)
        else:
            update.meet(at)
            update.restart(at)
        if self.state is TicketState.AWAITING_CUSTOMER:
            update.pause(at)  # the next update is owed once the customer has answered

    def _started(self) -> bool:
        return any(c.started_at is not None for c in self.clocks.values())

    def _pause_open_clocks(self, at: datetime) -> None:
        for clock in self.clocks.values():
            clock.pause(at)

    def _resume_open_clocks(self, at: datetime) -> None:
        for clock in self.clocks.values():
            clock.resume(at)

    # -- questions -------------------------------------------------------------------------

    def view(self, now: datetime) -> list[ClockView]:
        views = []
        for metric, clock in self.clocks.items():
            used = clock.used(now)
            status = clock.status(now)
            views.append(
                ClockView(
                    metric=metric,
                    status=status,
                    target=clock.target,
                    used=used,
                    remaining=None if clock.target is None else clock.target - used,
                    deadline=clock.deadline(),
                    started_at=clock.started_at,
                    met_at=clock.met_at,
                    late=clock.target is not None and used > clock.target,
                    pauses=len(clock.pauses),
                    cycle=clock.cycle,
                    earlier=tuple(clock.earlier),
                )
            )
        return views

    def timers(self) -> list[Timer]:
        """What must happen next while the clocks run as they do now (warnings, breaches)."""
        due: list[Timer] = []
        for metric, clock in self.clocks.items():
            if clock.met_at is not None or clock.running_since is None:
                continue
            for share in self.policy.sla.warnings:
                when = clock.due_at_share(share)
                if when is not None:
                    due.append(Timer(metric, "warning", when, share))
            when = clock.due_at_share(1.0)
            if when is not None:
                due.append(Timer(metric, "breach", when))
        return sorted(due, key=lambda t: t.due)

    def _close_notice(self, resolved_at: datetime, close_at: datetime) -> datetime | None:
        """When the customer is told of the automatic close: ``notice_before_close`` of the
        grace period's own time before it (business time for 000's business days), always
        while the desk is open — never at night, on a weekend or on a holiday."""
        quit_ = self.policy.abandonment
        notice, grace = quit_.notice_before_close, quit_.grace_after_resolution
        if notice is None or grace is None:
            return None
        calendar = self.policy.clock(grace, self.modality)
        if notice.is_business_days:
            name = grace.calendar or self.policy.business_calendar_for(self.modality)
            length = notice.resolve(self.policy.business_day(name))
        else:
            length = notice.fixed
        grace_length = self.policy.duration(grace, self.modality)
        at = calendar.add(resolved_at, max(grace_length - length, ZERO))
        desk = self.policy.calendar(self.policy.business_calendar_for(self.modality))
        if not desk.is_open(at):
            # at the close of a day: the next opening is the same business time before the
            # close; on a calendar clock the desk's next opening, if still before the close
            opening = desk.next_open(at)
            at = opening if opening < close_at else at
        return at

    def actions(self) -> list[Action]:
        """The ticket changes the policy asks for next, given the ticket as it is now."""
        policy, life, quit_ = self.policy, self.policy.lifecycle, self.policy.abandonment
        found: list[Action] = []
        if self.state is TicketState.RESOLVED and self.resolved_at is not None:
            if self.resolution == "abandoned" and quit_.grace_after_resolution is not None:
                due = policy.due(quit_.grace_after_resolution, self.resolved_at, self.modality)
                found.append(actions.close(ActionKind.CLOSE_ABANDONED, due))
                if (notice := self._close_notice(self.resolved_at, due)) is not None:
                    found.append(actions.close_notice(notice, due))
            elif life.auto_close_after is not None:
                due = policy.due(life.auto_close_after, self.resolved_at, self.modality)
                found.append(actions.close(ActionKind.CLOSE_EXPIRED, due))
        elif self.state is TicketState.AWAITING_CUSTOMER:
            limit = quit_.max_unanswered_contact_attempts
            if limit is not None and self.unanswered_attempts >= limit and self.last_attempt_at:
                found.append(actions.close(ActionKind.CLOSE_ABANDONED, self.last_attempt_at))
            if quit_.inactivity is not None and self.awaiting_since is not None:
                due = policy.due(quit_.inactivity, self.awaiting_since, self.modality)
                found.append(actions.resolve_abandoned(due))
        elif self.state is not TicketState.CLOSED and self.level_since is not None:
            delay = policy.escalation_delay(
                self.level + 1,
                priority=self.priority,
                ticket_type=self.ticket_type,
                modality=self.modality,
            )
            if delay is not None:
                length, calendar = delay
                resolution = self.clocks[Metric.RESOLUTION]
                found.append(
                    actions.escalation(
                        self.level + 1,
                        calendar.add(self.level_since, length),
                        resolution.deadline(),
                        resolution.target,
                    )
                )
        return found
