"""A ticket's record that its contact's personal data was erased (ADR 23).

Kept beside the aggregate rather than in it: the lifecycle does not depend on it, and any
ticket, open or closed, takes it (a closed ticket never reopens, yet its retention period ends).
The event holds who, when and why, and nothing personal; it travels on ``TICKETS`` like every
ticket event, so sla-monitor and the notifier blank their copies in the ticket's own order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from servicekit.personal_data import ERASED
from ticket_api.domain.ticket import Actor, Ticket


class PersonalDataErased(Ticket.Event):
    """Its contact's key was destroyed: from here on the ticket shows its personal data as
    erased (its events already read so, from the store)."""

    reason: str
    scope: str

    def apply(self, ticket: Ticket) -> None:
        # A copy in memory (the aggregate cache, another replica's) forgets it too.
        contact: dict[str, Any] = dict(ticket.contact)
        contact.update(name=ERASED, email=ERASED, phone=None)
        ticket.contact = contact
        ticket.title = ERASED
        ticket.description = ERASED
        ticket.intake = {}
        ticket.attachments = [{**a, "name": ERASED} for a in ticket.attachments]
        if ticket.opened_by.get("kind") == "customer":
            ticket.opened_by = {**ticket.opened_by, "name": ERASED}
        ticket.personal_data_erased = True  # type: ignore[attr-defined]


def is_erased(ticket: Ticket) -> bool:
    return bool(getattr(ticket, "personal_data_erased", False))


def mark_erased(ticket: Ticket, *, reason: str, scope: str, by: Actor, at: datetime) -> bool:
    """Record the erasure on the ticket, once; False if it was already recorded."""
    if is_erased(ticket):
        return False
    ticket.trigger_event(PersonalDataErased, timestamp=at, actor=by, reason=reason, scope=scope)
    return True


# Listed with the ticket's own events: the relay and the ticket list find a ticket's event
# classes among the aggregate's attributes.
Ticket.PersonalDataErased = PersonalDataErased  # type: ignore[attr-defined]
