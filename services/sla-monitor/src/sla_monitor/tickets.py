"""What a dashboard calls a ticket: its case number, title, priority, assignee and state.

SLA clocks are kept by ticket id, which nobody at a help desk says aloud: people name a ticket
by its case number (``BIT-000123``), recognise it by its title and ask who has it and where it
stands. ``TicketFacts`` is folded from the same stored events as the clocks, so the projection
stays a pure function of the stream (a rebuild writes the same rows).

The state follows ticket-api's lifecycle rules, not ``TicketSla.state``: the clocks only need
to know what pauses and restarts them, while a dashboard must show the state the ticket has on
ticket-api (a ticket reopened before anyone took it is open again, not in progress).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.events import EVENTS, EventPayload
from contracts.events import ticket as te
from contracts.vocabulary import TicketState

NAMING_EVENTS = frozenset(
    cls.event_name
    for cls in (
        te.Opened,
        te.Classified,
        te.Assigned,
        te.InProgress,
        te.AwaitingCustomer,
        te.CustomerReplied,
        te.Resolved,
        te.Reopened,
        te.Closed,
    )
)
"""The events that change a ticket's facts; the rest (replies, notes) are not even parsed."""


@dataclass(frozen=True)
class Assignee:
    id: str
    name: str


@dataclass
class TicketFacts:
    """One ticket as a person names it, as of its last event."""

    case_number: str
    title: str
    priority: str
    opened_at: datetime
    updated_at: datetime
    state: TicketState = TicketState.OPEN
    assignee: Assignee | None = None

    @classmethod
    def opened(cls, event: te.Opened, at: datetime) -> TicketFacts:
        return cls(event.case_number, event.title, event.priority, opened_at=at, updated_at=at)

    def apply(self, event: EventPayload, at: datetime) -> None:
        """One later event of the ticket (ticket-api's aggregate applies the same moves)."""
        self.updated_at = at
        if isinstance(event, te.Classified):
            self.priority = event.priority
        elif isinstance(event, te.Assigned):
            self.assignee = Assignee(event.agent_id, event.agent_name)
        elif isinstance(event, te.InProgress):
            self.state = TicketState.IN_PROGRESS
        elif isinstance(event, te.AwaitingCustomer):
            self.state = TicketState.AWAITING_CUSTOMER
        elif isinstance(event, te.CustomerReplied):
            if self.state is TicketState.AWAITING_CUSTOMER:
                self.state = TicketState.IN_PROGRESS
        elif isinstance(event, te.Resolved):
            self.state = TicketState.RESOLVED
        elif isinstance(event, te.Reopened):
            self.state = TicketState.IN_PROGRESS if self.assignee else TicketState.OPEN
        elif isinstance(event, te.Closed):
            self.state = TicketState.CLOSED


def ticket_facts(rows: Sequence[Mapping[str, Any]]) -> TicketFacts | None:
    """A ticket's facts from its stored events (``sla_ticket_events`` rows in order); None
    while its Opened event is missing, as for its clocks."""
    if not rows or rows[0]["name"] != te.Opened.event_name:
        return None
    facts: TicketFacts | None = None
    for row in rows:
        if row["name"] not in NAMING_EVENTS:
            if facts is not None:
                facts.updated_at = row["at"]
            continue
        raw = row["payload"]
        payload = EVENTS[row["name"]].model_validate(
            json.loads(raw) if isinstance(raw, str) else raw
        )
        if isinstance(payload, te.Opened):
            facts = TicketFacts.opened(payload, row["at"])
        elif facts is not None:
            facts.apply(payload, row["at"])
    return facts
