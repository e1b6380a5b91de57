"""What changed in a ticket's clocks, as SLA events (clock started, paused, resumed, met,
deadline recomputed, abandonment warning).

Pure: it compares the clocks as stored before an event with the clocks after it. The events go
through an outbox table written in the projection's transaction and are published by the timer
loop, so a change is announced once and never without the state it describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.events import Actor, ActorKind, EventPayload
from contracts.events import sla as se
from contracts.vocabulary import ClockKind, Metric
from sla_monitor.actions import Action, ActionKind
from sla_monitor.clocks import ClockStatus, ClockView, TicketSla

ACTOR = Actor(kind=ActorKind.SERVICE, id="sla-monitor", name="sla-monitor")
ABANDONMENT_STEPS = {ActionKind.RESOLVE_ABANDONED: "resolve", ActionKind.CLOSE_ABANDONED: "close"}


@dataclass(frozen=True)
class Change:
    """One SLA event and the key that makes it unique (its CloudEvent id suffix)."""

    key: str
    payload: EventPayload
    at: datetime | None = None
    """When it happened, if not at the ticket event that revealed it (a breach's deadline)."""


def timer_key(metric: str, kind: str, threshold: float, due: datetime) -> str:
    """The id suffix of a timer's SLA event (warning or breach): the same whether the timer
    loop fires it or the projection announces a breach it revealed first, so JetStream's
    duplicate window and the consumers' inboxes let only one through."""
    return f"{metric}:{kind}:{float(threshold)}:{due.astimezone(UTC).isoformat()}"


def missed_breaches(sla: TicketSla, fired: set[tuple[str, datetime]]) -> list[Change]:
    """Breaches the ticket event reveals before the timer loop fired them.

    A reply or a resolution that arrives after the deadline but before the loop's next pass
    ends the running span, and with it the breach timer: without this the breach would be
    recorded (``breached_at``) but never announced. ``fired`` holds ``(metric, due)`` of the
    breaches already announced.
    """
    found = []
    for metric, clock in sla.clocks.items():
        cycles = [(c.cycle, c.breached_at) for c in clock.earlier] + [
            (clock.cycle, clock.breached_at)
        ]
        for cycle, due in cycles:
            if due is None or (metric.value, due) in fired:
                continue
            found.append(
                Change(
                    timer_key(metric.value, "breach", 1.0, due),
                    se.Breached(
                        actor=ACTOR, metric=metric, priority=sla.priority, deadline=due, cycle=cycle
                    ),
                    at=due,
                )
            )
    return found


def clock_changes(
    sla: TicketSla,
    views: list[ClockView],
    before: Mapping[str, Mapping[str, Any]],
    version: int,
) -> list[Change]:
    """SLA events for the clocks whose state changed with the event at ``version``.

    ``before`` is the stored ``sla_clocks`` row per metric (empty for a new ticket).
    """
    changes: list[Change] = []
    for view in views:
        if view.status is ClockStatus.NOT_APPLICABLE or view.target is None:
            continue
        old = before.get(view.metric.value)
        was = old["status"] if old else ClockStatus.PENDING.value
        key = f"{view.metric.value}:{version}" + (f":c{view.cycle}" if view.cycle > 1 else "")
        common: dict[str, Any] = {
            "actor": ACTOR,
            "metric": view.metric,
            "priority": sla.priority,
            "cycle": view.cycle,
        }
        running = sla.clocks[view.metric].running_since is not None
        stored_cycle = int(old.get("cycle") or 1) if old else 1
        if old and view.cycle > stored_cycle:
            # Cycles ended since the stored row (the next update, a reopen): each is announced
            # met unless that was announced already, and the current one starts afresh.
            for ended in view.earlier:
                if ended.cycle < stored_cycle or ended.met_at is None:
                    continue
                if ended.cycle == stored_cycle and was == ClockStatus.MET.value:
                    continue
                changes.append(
                    Change(
                        f"{view.metric.value}:{version}:c{ended.cycle}:met",
                        se.Met(
                            **{**common, "cycle": ended.cycle},
                            deadline=ended.deadline,
                            elapsed=ended.used,
                            late=ended.late,
                        ),
                    )
                )
            was, old = ClockStatus.PENDING.value, None
        if was == ClockStatus.PENDING.value and view.started_at is not None:
            changes.append(
                Change(
                    f"{key}:started",
                    se.ClockStarted(
                        **common,
                        target=view.target,
                        clock=_kind(sla, view.metric),
                        deadline=view.deadline or view.started_at,
                    ),
                )
            )
        elif old and old["priority"] != sla.priority and running and view.deadline:
            changes.append(
                Change(
                    f"{key}:recomputed",
                    se.DeadlineRecomputed(
                        **common,
                        previous_priority=old["priority"],
                        target=view.target,
                        elapsed=view.used,
                        deadline=view.deadline,
                    ),
                )
            )
        if view.status is ClockStatus.MET and was != ClockStatus.MET.value and view.met_at:
            changes.append(
                Change(
                    f"{key}:met",
                    se.Met(**common, deadline=view.deadline, elapsed=view.used, late=view.late),
                )
            )
        elif old and old["running"] and not running and view.status is not ClockStatus.MET:
            changes.append(Change(f"{key}:paused", se.ClockPaused(**common, elapsed=view.used)))
        elif (
            old
            and not old["running"]
            and was not in (ClockStatus.MET.value, ClockStatus.PENDING.value)
            and running
        ):  # a pending clock that starts was announced as started above, not resumed
            changes.append(
                Change(
                    f"{key}:resumed",
                    se.ClockResumed(
                        **common, elapsed=view.used, deadline=view.deadline or view.started_at
                    ),
                )
            )
    return changes


def abandonment_warnings(
    actions: list[Action], armed_before: set[tuple[str, int]], version: int
) -> list[Change]:
    """Tell the customer's side when an abandonment step gets a date (000's notice)."""
    out = []
    for action in actions:
        step = ABANDONMENT_STEPS.get(action.kind)
        if step is not None and (action.kind.value, action.level) not in armed_before:
            out.append(
                Change(
                    f"abandonment:{step}:{version}",
                    se.AbandonmentWarning(actor=ACTOR, step=step, happens_at=action.due),
                )
            )
    return out


def _kind(sla: TicketSla, metric: Metric) -> ClockKind:
    target = sla.policy.target(metric, priority=sla.priority, ticket_type=sla.ticket_type)
    return target.clock if target is not None else ClockKind.BUSINESS
