"""Stored history is never rewritten: events written in an older shape still load."""

from __future__ import annotations

import json
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from conftest import Api
from contracts.events import envelope, from_wire, payload_of, to_wire
from ticket_api.domain.ticket import Ticket
from ticket_api.wire import payload


def test_a_ticket_opened_before_modalities_and_follow_ups_still_loads(api: Api) -> None:
    # An Opened event as version 1 wrote it: no class_version, no modality, no follow_up_of.
    ticket_id = uuid4()
    v1_state = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2025-03-03T15:00:00+00:00"},
        "originator_topic": get_topic(Ticket),
        "case_number": "BIT-000007",
        "policy": "bitam",
        "tenant": "femsa",
        "contact": {"id": "c-1", "name": "Ana", "email": "ana@femsa.mx", "locale": "es"},
        "title": "Reporte vacío",
        "description": "El reporte sale vacío",
        "ticket_type": "soporte",
        "priority": "media",
        "subcategory": None,
        "product": "ebavel",
        "product_version": "6.5",
        "channel": "email",
        "intake": {},
        "feature_request": False,
        "actor": {"kind": "customer", "id": "c-1", "name": None},
        "trace": {},
    }
    api.desk.recorder.insert_events(
        [
            StoredEvent(
                originator_id=ticket_id,
                originator_version=1,
                topic=get_topic(Ticket.Opened),
                state=json.dumps(v1_state).encode(),
            )
        ]
    )

    ticket = api.desk.ticket(ticket_id)

    assert (ticket.case_number, ticket.modality, ticket.follow_up_of) == ("BIT-000007", None, None)
    opened = api.desk.history(ticket_id)[0]
    assert isinstance(opened, Ticket.Opened)
    assert payload(opened).event_name == "ticket.opened"  # and it still meets the wire contract


def test_every_stored_event_meets_its_wire_contract(api: Api) -> None:
    ticket = api.open()
    api.do(ticket, "assign", {"agent_id": "agent-lucia", "agent_name": "Lucía"})
    api.do(ticket, "start")
    api.do(ticket, "notes", {"body": "Revisar"})
    for event in api.desk.history(UUID(ticket["id"])):
        assert isinstance(event, Ticket.Event)
        data = payload(event)
        wrapped = envelope(
            data,
            ticket_id=ticket["id"],
            ticket_version=event.originator_version,
            tenant="acme",
            policy="btw",
            time=event.timestamp,
            source="/ticket-api",
        )
        # what a consumer decodes from the wire is exactly what was stored
        assert payload_of(from_wire(to_wire(wrapped))) == data
