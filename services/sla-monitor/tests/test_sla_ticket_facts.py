"""What a dashboard calls a ticket, folded from its events without a database: the case number
and title it was opened with, the last agent given it, its priority and its lifecycle state as
ticket-api has it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts.events import Actor, ActorKind, EventPayload
from contracts.events import ticket as te
from contracts.vocabulary import TicketState
from sla_monitor.tickets import Assignee, TicketFacts, ticket_facts

MONDAY_0900 = datetime(2026, 11, 30, 9, tzinfo=ZoneInfo("America/Mexico_City"))
AGENT = Actor(kind=ActorKind.AGENT, id="agent-lucia")
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="contact-ana")
OPENED = te.Opened(
    actor=CUSTOMER,
    case_number="BIT-000042",
    contact=te.Contact(id="contact-ana", name="Ana", email="ana@acme.example"),
    title="El portal no responde",
    description="Error 500",
    ticket_type="soporte",
    priority="urgente",
)


def stored(*events: EventPayload) -> list[dict[str, Any]]:
    """``sla_ticket_events`` rows, one minute apart, as the projection reads them."""
    return [
        {
            "name": event.event_name,
            "payload": json.dumps(event.model_dump(mode="json")),
            "at": MONDAY_0900 + timedelta(minutes=minute),
        }
        for minute, event in enumerate(events)
    ]


def facts_of(*events: EventPayload) -> TicketFacts:
    facts = ticket_facts(stored(OPENED, *events))
    assert facts is not None
    return facts


def test_a_new_ticket_is_open_unassigned_and_named_by_its_case_number_and_title() -> None:
    facts = facts_of()
    assert (facts.case_number, facts.title, facts.priority) == (
        "BIT-000042",
        "El portal no responde",
        "urgente",
    )
    assert (facts.state, facts.assignee) == (TicketState.OPEN, None)
    assert facts.opened_at == facts.updated_at == MONDAY_0900


def test_the_assignee_is_the_last_agent_given_the_ticket_and_the_priority_its_last_class() -> None:
    facts = facts_of(
        te.Assigned(actor=AGENT, agent_id="agent-lucia", agent_name="Lucía"),
        te.Classified(
            actor=AGENT,
            ticket_type="soporte",
            priority="alta",
            previous_ticket_type="soporte",
            previous_priority="urgente",
            reason="Hay una solución alterna",
        ),
        te.Assigned(actor=AGENT, agent_id="agent-pedro", agent_name="Pedro"),
        te.NoteAdded(actor=AGENT, body="Pedro conoce el módulo"),
    )
    assert (facts.priority, facts.assignee) == ("alta", Assignee("agent-pedro", "Pedro"))
    assert facts.state is TicketState.OPEN  # being assigned is not being worked on
    assert facts.updated_at == MONDAY_0900 + timedelta(minutes=4)  # the note counts as activity


def test_the_state_follows_the_lifecycle_through_a_wait_a_resolution_a_reopen_and_closure() -> None:
    taken = te.Assigned(actor=AGENT, agent_id="agent-lucia", agent_name="Lucía")
    lifecycle: list[tuple[EventPayload, TicketState]] = [
        (te.InProgress(actor=AGENT), TicketState.IN_PROGRESS),
        (
            te.AwaitingCustomer(actor=AGENT, request="¿Qué navegador usa?"),
            TicketState.AWAITING_CUSTOMER,
        ),
        (te.CustomerReplied(actor=CUSTOMER, body="Firefox"), TicketState.IN_PROGRESS),
        (te.CustomerReplied(actor=CUSTOMER, body="¿Novedades?"), TicketState.IN_PROGRESS),
        (
            te.Resolved(actor=AGENT, resolution=te.ResolutionKind.SOLUTION, summary="Reiniciado"),
            TicketState.RESOLVED,
        ),
        (te.Reopened(actor=CUSTOMER, reason="Sigue fallando"), TicketState.IN_PROGRESS),
        (
            te.Closed(actor=CUSTOMER, closure=te.ClosureKind.CUSTOMER_REQUEST),
            TicketState.CLOSED,
        ),
    ]
    events: list[EventPayload] = [taken]
    for event, state in lifecycle:
        events.append(event)
        assert facts_of(*events).state is state, event.event_name


def test_a_ticket_reopened_before_anyone_took_it_is_open_again() -> None:
    resolved = te.Resolved(actor=AGENT, resolution=te.ResolutionKind.SOLUTION, summary="Hecho")
    reopened = te.Reopened(actor=CUSTOMER, reason="Sigue fallando")
    assert facts_of(resolved, reopened).state is TicketState.OPEN


def test_a_ticket_whose_opening_is_not_stored_yet_has_no_facts() -> None:
    assert ticket_facts([]) is None
    assert ticket_facts(stored(te.InProgress(actor=AGENT))) is None
