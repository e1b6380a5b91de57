"""The Ticket aggregate's lifecycle, told as the stories of DOMAIN.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.vocabulary import TicketState
from ticket_api.domain.errors import TicketRuleBroken
from ticket_api.domain.ticket import Ticket

T0 = datetime(2026, 11, 24, 15, tzinfo=UTC)
CUSTOMER = {"kind": "customer", "id": "contact-1", "name": "Ana Ruiz"}
AGENT = {"kind": "agent", "id": "agent-7", "name": "Lucía Gómez"}
SLA_MONITOR = {"kind": "service", "id": "sla-monitor"}


def a_ticket(**overrides: Any) -> Ticket:
    details: dict[str, Any] = {
        "case_number": "BIT-000042",
        "policy": "bitam",
        "tenant": "femsa",
        "contact": {"id": "contact-1", "name": "Ana Ruiz", "email": "ana@femsa.mx", "locale": "es"},
        "title": "El portal no responde",
        "description": "Desde las 9:00 el portal devuelve error 500.",
        "ticket_type": "soporte",
        "priority": "urgente",
        "subcategory": None,
        "product": "ebavel",
        "product_version": "6.6",
        "channel": "portal",
        "modality": None,
        "intake": {},
        "follow_up_of": None,
        "feature_request": False,
    }
    return Ticket.open(by=CUSTOMER, at=T0, **{**details, **overrides})


def worked_on(ticket: Ticket) -> Ticket:
    ticket.assign(agent_id="agent-7", agent_name="Lucía Gómez", by=AGENT, at=T0)
    ticket.start(by=AGENT, at=T0)
    return ticket


def test_a_ticket_goes_from_open_to_closed_and_its_history_says_who_did_what() -> None:
    ticket = a_ticket()
    assert ticket.state is TicketState.OPEN

    # The agent takes it, works on it, answers, and the customer confirms the solution.
    worked_on(ticket)
    ticket.reply(body="Reiniciamos el servicio.", public=True, by=AGENT, at=T0 + timedelta(hours=1))
    ticket.resolve(
        resolution="solution",
        summary="Servicio reiniciado",
        reopen_until=None,
        by=AGENT,
        at=T0 + timedelta(hours=1),
    )
    ticket.close(closure="confirmed", note=None, by=CUSTOMER, at=T0 + timedelta(hours=2))

    assert ticket.state is TicketState.CLOSED
    assert ticket.first_public_reply_at == T0 + timedelta(hours=1)
    events = ticket.collect_events()
    assert [type(e).__name__ for e in events] == [
        "Opened",
        "Assigned",
        "InProgress",
        "AgentReplied",
        "Resolved",
        "Closed",
    ]
    assert [e.actor["kind"] for e in events] == [  # type: ignore[attr-defined]
        "customer",
        "agent",
        "agent",
        "agent",
        "agent",
        "customer",
    ]


def test_work_cannot_start_before_someone_is_assigned() -> None:
    with pytest.raises(TicketRuleBroken) as refused:
        a_ticket().start(by=AGENT, at=T0)
    assert refused.value.code == "not-assigned"
    assert "Asigne" in refused.value.es and "Assign" in refused.value.en


def test_waiting_for_the_customer_and_their_reply_resumes_the_work() -> None:
    ticket = worked_on(a_ticket())
    ticket.await_customer(request="Envíe la captura del error", by=AGENT, at=T0)
    assert ticket.state is TicketState.AWAITING_CUSTOMER
    ticket.customer_reply(body="Adjunto captura", channel="email", by=CUSTOMER, at=T0)
    assert ticket.state is TicketState.IN_PROGRESS


def test_unanswered_contact_attempts_are_counted_until_the_customer_answers() -> None:
    ticket = worked_on(a_ticket())
    ticket.await_customer(request="Necesitamos el XML", by=AGENT, at=T0)
    for expected in (1, 2, 3):
        assert (
            ticket.record_contact_attempt(channel="phone", note=None, by=AGENT, at=T0) == expected
        )
    ticket.customer_reply(body="Aquí está", channel="email", by=CUSTOMER, at=T0)
    assert ticket.unanswered_attempts == 0


def test_a_resolved_ticket_reopens_when_the_customer_replies_within_the_window() -> None:
    ticket = worked_on(a_ticket())
    window_ends = T0 + timedelta(days=21)
    ticket.resolve(
        resolution="workaround",
        summary="Use el reporte alterno",
        reopen_until=window_ends,
        by=AGENT,
        at=T0,
    )
    ticket.customer_reply(
        body="Sigue fallando", channel="portal", by=CUSTOMER, at=window_ends - timedelta(minutes=1)
    )
    assert ticket.state is TicketState.IN_PROGRESS
    assert ticket.reopen_count == 1
    assert [type(e).__name__ for e in ticket.collect_events()][-2:] == [
        "Reopened",
        "CustomerReplied",
    ]


def test_after_the_reopen_window_the_customer_is_told_to_open_a_follow_up() -> None:
    ticket = worked_on(a_ticket())
    ticket.resolve(
        resolution="solution", summary="Listo", reopen_until=T0 + timedelta(days=1), by=AGENT, at=T0
    )
    with pytest.raises(TicketRuleBroken) as refused:
        ticket.reopen(reason="No funcionó", by=CUSTOMER, at=T0 + timedelta(days=2))
    assert refused.value.code == "reopen-window-over"
    assert "follow-up" in refused.value.en


def test_a_closed_ticket_never_reopens_and_names_the_way_forward() -> None:
    ticket = worked_on(a_ticket())
    ticket.resolve(resolution="solution", summary="Listo", reopen_until=None, by=AGENT, at=T0)
    ticket.close(closure="expired", note=None, by=SLA_MONITOR, at=T0)
    for attempt in (
        lambda: ticket.reopen(reason="x", by=CUSTOMER, at=T0),
        lambda: ticket.customer_reply(body="x", channel="email", by=CUSTOMER, at=T0),
    ):
        with pytest.raises(TicketRuleBroken) as refused:
            attempt()
        assert refused.value.code == "ticket-closed"
        assert "seguimiento" in refused.value.es


def test_escalation_moves_up_one_or_more_levels_always_with_a_future_etr() -> None:
    ticket = worked_on(a_ticket())
    etr = T0 + timedelta(hours=4)
    ticket.escalate(
        to_level=2, reason="Sin resolución en nivel 1", etr=etr, max_level=3, by=SLA_MONITOR, at=T0
    )
    assert (ticket.level, ticket.etr) == (2, etr)
    with pytest.raises(TicketRuleBroken, match="level above"):
        ticket.escalate(to_level=2, reason="again", etr=etr, max_level=3, by=AGENT, at=T0)
    with pytest.raises(TicketRuleBroken, match="level above"):
        ticket.escalate(to_level=4, reason="no such", etr=etr, max_level=3, by=AGENT, at=T0)
    with pytest.raises(TicketRuleBroken) as refused:
        ticket.update_etr(etr=T0 - timedelta(minutes=1), note=None, by=AGENT, at=T0)
    assert refused.value.code == "etr-in-past"


def test_abandonment_resolves_only_a_ticket_waiting_for_the_customer() -> None:
    ticket = worked_on(a_ticket())
    with pytest.raises(TicketRuleBroken):
        ticket.resolve(
            resolution="abandoned",
            summary="Sin respuesta",
            reopen_until=None,
            by=SLA_MONITOR,
            at=T0,
        )
    ticket.await_customer(request="¿Sigue ocurriendo?", by=AGENT, at=T0)
    ticket.resolve(
        resolution="abandoned",
        summary="Sin respuesta en 7 días",
        reopen_until=None,
        by=SLA_MONITOR,
        at=T0 + timedelta(days=7),
    )
    assert ticket.resolution == "abandoned"


def test_reclassifying_keeps_the_previous_values_and_the_reason() -> None:
    ticket = a_ticket()
    ticket.classify(
        ticket_type="error",
        priority="alta",
        subcategory=None,
        reason="Hay solución alterna",
        by=AGENT,
        at=T0,
    )
    event = ticket.collect_events()[-1]
    assert (event.previous_priority, event.priority) == ("urgente", "alta")  # type: ignore[attr-defined]
    with pytest.raises(TicketRuleBroken) as refused:
        ticket.classify(
            ticket_type="error", priority="alta", subcategory=None, reason="x", by=AGENT, at=T0
        )
    assert refused.value.code == "no-change"


def test_only_a_feature_request_gets_one_committee_decision() -> None:
    with pytest.raises(TicketRuleBroken) as refused:
        a_ticket().review_feature_request(
            viable=True, cost_note=None, target_release=None, by=AGENT, at=T0
        )
    assert refused.value.code == "not-a-feature-request"
    request = a_ticket(ticket_type="nuevo-requerimiento", feature_request=True)
    request.review_feature_request(
        viable=True, cost_note="Costo adicional", target_release="6.7", by=AGENT, at=T0
    )
    assert request.feature_review is not None and request.feature_review["viable"]
    with pytest.raises(TicketRuleBroken):
        request.review_feature_request(
            viable=False, cost_note=None, target_release=None, by=AGENT, at=T0
        )


def test_internal_notes_are_allowed_even_on_closed_tickets() -> None:
    ticket = a_ticket()
    ticket.close(closure="customer_request", note="Ya no es necesario", by=CUSTOMER, at=T0)
    ticket.add_note(body="El cliente canceló por teléfono", by=AGENT, at=T0)
    assert type(ticket.collect_events()[-1]).__name__ == "NoteAdded"
