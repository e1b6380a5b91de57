"""SLA events: what sla-monitor observes about a ticket's clocks, published under ``sla.>``.

Changes to the ticket itself (escalation, resolution as abandoned, closing as expired) are not
SLA events: sla-monitor asks ticket-api for them, so the ticket's history stays the one truth.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, Field

from contracts.events.base import EventPayload, Identifier
from contracts.vocabulary import ClockKind, Metric

Share = Annotated[float, Field(gt=0, lt=1)]


class SlaEvent(EventPayload):
    """Base of the SLA events; ``metric`` names the clock concerned."""

    metric: Metric
    priority: Identifier
    cycle: int = Field(
        1,
        ge=1,
        description="Which cycle of the clock: a reopen under `on_reopen: restart` and each "
        "periodic update start a new one; earlier cycles keep their outcome.",
    )


class ClockStarted(SlaEvent):
    event_name: ClassVar[str] = "sla.clock_started"
    meaning: ClassVar[str] = "A target's clock started; the deadline is known."

    target: timedelta
    clock: ClockKind
    calendar: Identifier | None = None
    deadline: AwareDatetime


class ClockPaused(SlaEvent):
    event_name: ClassVar[str] = "sla.clock_paused"
    meaning: ClassVar[str] = "The clock stopped (e.g. awaiting the customer)."

    elapsed: timedelta


class ClockResumed(SlaEvent):
    event_name: ClassVar[str] = "sla.clock_resumed"
    meaning: ClassVar[str] = "The clock runs again; the deadline moved by the paused time."

    elapsed: timedelta
    deadline: AwareDatetime


class DeadlineRecomputed(SlaEvent):
    event_name: ClassVar[str] = "sla.deadline_recomputed"
    meaning: ClassVar[str] = "Priority or type changed: new target, elapsed time kept."

    previous_priority: Identifier
    target: timedelta
    elapsed: timedelta
    deadline: AwareDatetime


class WarningRaised(SlaEvent):
    event_name: ClassVar[str] = "sla.warning"
    meaning: ClassVar[str] = "A warning threshold of the target was crossed before the breach."

    threshold: Share
    deadline: AwareDatetime
    remaining: timedelta


class Breached(SlaEvent):
    event_name: ClassVar[str] = "sla.breached"
    meaning: ClassVar[str] = "The deadline passed without the target being met."

    deadline: AwareDatetime


class Met(SlaEvent):
    event_name: ClassVar[str] = "sla.met"
    meaning: ClassVar[str] = "The target was met (first public reply, resolution, decision)."
    schema_version: ClassVar[int] = 2
    upcasters: ClassVar[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {
        1: lambda data: data,  # v2 only lets the deadline be absent
    }

    deadline: AwareDatetime | None = Field(
        description="The deadline the clock had when it was met; none when it was met while "
        "paused (a paused clock has no deadline)."
    )
    elapsed: timedelta
    late: bool = False


class AbandonmentWarning(EventPayload):
    event_name: ClassVar[str] = "sla.abandonment_warning"
    meaning: ClassVar[str] = "No customer answer: the ticket will be resolved or closed at a date."

    step: Annotated[str, Field(pattern=r"^(resolve|close)$")]
    happens_at: AwareDatetime
    unanswered_attempts: int | None = None


SLA_EVENTS: tuple[type[EventPayload], ...] = (
    ClockStarted,
    ClockPaused,
    ClockResumed,
    DeadlineRecomputed,
    WarningRaised,
    Breached,
    Met,
    AbandonmentWarning,
)
