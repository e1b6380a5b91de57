"""Events on the wire: one CloudEvents envelope, stable ids and subjects, typed payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import jsonschema
import pytest
from pydantic import ValidationError

from contracts.events import (
    EVENTS,
    Actor,
    ActorKind,
    CloudEvent,
    UnknownEventError,
    envelope,
    from_wire,
    payload_of,
    subject,
    to_wire,
)
from contracts.events.ticket import Contact, Escalated, Opened

REPO = Path(__file__).resolve().parents[2]
TICKET = UUID("0b7c6f8e-3f4b-4d55-9a59-4d4c2c1b9e10")
AGENT = Actor(kind=ActorKind.AGENT, id="agent-7", name="Lucía Gómez")


def opened() -> Opened:
    return Opened(
        actor=Actor(kind=ActorKind.CUSTOMER, id="contact-1"),
        case_number="BTW-000123",
        contact=Contact(id="contact-1", name="Ana Ruiz", email="ana@cliente.co"),
        title="Error 500 DIAN al enviar factura",
        description="La DIAN responde 500 desde las 9:00.",
        ticket_type="soporte",
        priority="p1",
        subcategory="error-500-dian",
    )


def wrap(payload: Opened | Escalated, version: int = 1) -> CloudEvent:
    return envelope(
        payload,
        ticket_id=TICKET,
        ticket_version=version,
        tenant="acme",
        policy="btw",
        time=datetime(2026, 11, 24, 14, tzinfo=UTC),
        source="/ticket-api",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )


def test_a_ticket_event_id_is_ticket_and_version_the_same_key_as_the_nats_msg_id() -> None:
    event = wrap(opened(), version=1)
    assert event.id == f"{TICKET}:1"
    assert event.subject == str(TICKET)
    assert (event.ticketversion, event.tenant, event.policy) == (1, "acme", "btw")
    assert event.type == "supportdesk.ticket.opened"
    assert event.dataschema == "urn:supportdesk:schema:ticket.opened:v1"


def test_the_wire_form_round_trips_to_the_same_typed_payload() -> None:
    event = wrap(opened())
    assert payload_of(from_wire(to_wire(event))) == opened()


def test_the_wire_form_is_a_valid_cloudevent_per_the_published_schema() -> None:
    schema = json.loads((REPO / "contracts/schema/cloudevent.schema.json").read_text())
    body = json.loads(to_wire(wrap(opened())))
    jsonschema.Draft202012Validator(schema).validate(body)
    assert body["specversion"] == "1.0" and body["datacontenttype"] == "application/json"


def test_every_escalation_carries_an_etr() -> None:
    with pytest.raises(ValidationError, match="etr"):
        Escalated(actor=AGENT, from_level=1, to_level=2, reason="Sin resolución")  # type: ignore[call-arg]


def test_naive_times_are_refused_on_the_wire() -> None:
    with pytest.raises(ValidationError):
        Escalated(actor=AGENT, from_level=1, to_level=2, reason="x", etr=datetime(2026, 11, 24, 18))


def test_subjects_carry_tenant_ticket_and_event() -> None:
    assert subject("ticket.opened", tenant="acme", ticket_id=TICKET) == (
        f"tickets.acme.{TICKET}.opened"
    )
    assert subject("sla.breached", tenant="acme", ticket_id=TICKET) == f"sla.acme.{TICKET}.breached"


def test_unknown_types_and_future_schema_versions_are_refused_not_guessed() -> None:
    event = wrap(opened())
    with pytest.raises(UnknownEventError, match="unknown event type"):
        payload_of(event.model_copy(update={"type": "supportdesk.ticket.exploded"}))
    future = event.model_copy(update={"dataschema": "urn:supportdesk:schema:ticket.opened:v9"})
    with pytest.raises(UnknownEventError, match="v9 is not supported"):
        payload_of(future)


def test_every_event_named_in_the_domain_has_a_contract() -> None:
    expected_ticket = {
        "opened",
        "classified",
        "assigned",
        "in_progress",
        "agent_replied",
        "customer_replied",
        "awaiting_customer",
        "contact_attempted",
        "etr_updated",
        "escalated",
        "resolved",
        "reopened",
        "closed",
        "note_added",
        "feature_request_reviewed",
        "personal_data_erased",  # ADR 23
    }
    expected_sla = {
        "clock_started",
        "clock_paused",
        "clock_resumed",
        "warning",
        "breached",
        "met",
        "abandonment_warning",
    }
    assert {n.removeprefix("ticket.") for n in EVENTS if n.startswith("ticket.")} == expected_ticket
    assert expected_sla <= {n.removeprefix("sla.") for n in EVENTS if n.startswith("sla.")}


def test_what_is_internal_is_said_once_by_the_contract() -> None:
    """Notes and non-public replies are staff-only; every other fact may reach the customer."""
    from contracts.events.ticket import is_internal

    assert is_internal("ticket.note_added")
    assert is_internal("ticket.agent_replied", public=False)
    assert not is_internal("ticket.agent_replied", public=True)
    assert not is_internal("ticket.customer_replied")
    assert not is_internal("ticket.resolved")
