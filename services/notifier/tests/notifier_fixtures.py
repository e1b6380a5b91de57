"""Shared builders for the notifier's tests: seed policies, tickets and their events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from contracts.events import Actor, ActorKind, CloudEvent, EventPayload, envelope
from contracts.events import ticket as te
from contracts.policy import load_policies

ROOT = Path(__file__).resolve().parents[3]
POLICIES = load_policies(ROOT / "policies")
AGENT = Actor(kind=ActorKind.AGENT, id="agent-lucia", name="Lucía Gómez")
SERVICE = Actor(kind=ActorKind.SERVICE, id="sla-monitor")
AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)

ANA = te.Contact(id="c-ana", name="Ana Ruiz", email="ana@acme.example")
ANA_WHATSAPP = ANA.model_copy(
    update={
        "channel": te.AgreedChannel.WHATSAPP,
        "phone": "+525512345678",
        "time_zone": "America/Bogota",
    }
)
JOHN = te.Contact(id="c-john", name="John Smith", email="john@acme.example", locale="en")


def opened(policy: str, contact: te.Contact = ANA, **changes: Any) -> te.Opened:
    spec = POLICIES[policy]
    fields: dict[str, Any] = {
        "actor": AGENT,
        "case_number": f"{spec.case_prefix}-000042",
        "contact": contact,
        "title": "La facturación no responde",
        "description": "Desde las 9:00 nada sale.",
        "ticket_type": spec.ticket_types[0].id,
        "priority": spec.priorities[0].id,
    }
    return te.Opened(**(fields | changes))


class Story:
    """One ticket's events, numbered as ticket-api would number them."""

    def __init__(self, policy: str, tenant: str = "acme", ticket_id: UUID | None = None) -> None:
        self.policy = policy
        self.tenant = tenant
        self.ticket_id = ticket_id or uuid4()
        self.version = 0

    def event(self, payload: EventPayload, *, at: datetime = AT) -> CloudEvent:
        is_ticket_event = isinstance(payload, te.TicketEvent)
        if is_ticket_event:
            self.version += 1
        return envelope(
            payload,
            ticket_id=self.ticket_id,
            ticket_version=max(self.version, 1),
            tenant=self.tenant,
            policy=self.policy,
            time=at,
            source="/ticket-api" if is_ticket_event else "/sla-monitor",
            event_id=None if is_ticket_event else f"{self.ticket_id}:sla:{uuid4().hex[:8]}",
        )
