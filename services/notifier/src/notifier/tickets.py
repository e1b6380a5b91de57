"""What the notifier remembers of each ticket: who to tell and what to tell them about.

Only ``ticket.opened`` carries the contact and the case number; later events and the SLA
events name just the ticket. So the notifier folds each ticket's events into a small view —
case number, title, contact, assigned agent, support level, ETR, state — and routes every
event with the view as it stands after that event. Events must be applied in version order:
a gap (a redelivered earlier event still on its way) is a ``TicketNotReady`` to retry later.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from contracts.events import CloudEvent, EventPayload
from contracts.events.ticket import (
    Assigned,
    Classified,
    Contact,
    Escalated,
    EtrUpdated,
    Opened,
    TicketEvent,
)

STATE_AFTER = {
    "ticket.opened": "open",
    "ticket.in_progress": "in_progress",
    "ticket.awaiting_customer": "awaiting_customer",
    "ticket.customer_replied": "in_progress",
    "ticket.resolved": "resolved",
    "ticket.reopened": "in_progress",
    "ticket.closed": "closed",
}


class TicketNotReady(Exception):
    """The event cannot be routed yet: its ticket, or an earlier event of it, is not here."""


class TicketView(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: str
    version: int
    tenant: str
    policy: str
    case_number: str
    title: str
    priority: str
    contact: Contact
    state: str = "open"
    level: int = 1
    agent_id: str | None = None
    agent_name: str | None = None
    etr: datetime | None = None


def apply(view: TicketView | None, event: CloudEvent, payload: EventPayload) -> TicketView:
    """The view after a ticket event (the view unchanged for an SLA event)."""
    if not isinstance(payload, TicketEvent):
        if view is None:
            raise TicketNotReady(f"SLA event {event.id} before its ticket's first event")
        return view
    if isinstance(payload, Opened):
        return TicketView(
            ticket_id=event.subject,
            version=event.ticketversion,
            tenant=event.tenant,
            policy=event.policy,
            case_number=payload.case_number,
            title=payload.title,
            priority=payload.priority,
            contact=payload.contact,
        )
    if view is None or event.ticketversion != view.version + 1:
        have = "nothing" if view is None else f"version {view.version}"
        raise TicketNotReady(f"{event.id} arrived while the notifier has {have} of the ticket")
    changes: dict[str, object] = {"version": event.ticketversion}
    if state := STATE_AFTER.get(payload.event_name):
        changes["state"] = state
    if isinstance(payload, Assigned):
        changes |= {
            "agent_id": payload.agent_id,
            "agent_name": payload.agent_name,
            "level": payload.support_level,
        }
    elif isinstance(payload, Escalated):
        changes |= {"level": payload.to_level, "etr": payload.etr}
    elif isinstance(payload, EtrUpdated):
        changes["etr"] = payload.etr
    elif isinstance(payload, Classified):
        changes["priority"] = payload.priority
    return view.model_copy(update=changes)
