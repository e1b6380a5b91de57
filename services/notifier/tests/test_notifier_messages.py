"""Every kind of message, in Spanish and English, to the customer and to staff."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from notifier_fixtures import ANA, JOHN, POLICIES, SERVICE, Story, opened

from contracts.events import EventPayload
from contracts.events import sla as se
from contracts.events import ticket as te
from contracts.vocabulary import Audience, DeliveryChannel, Metric
from notifier.messages import KIND_OF_EVENT, Message, Messages
from notifier.routing import Recipient
from notifier.tickets import TicketView, apply

ETR = datetime(2026, 11, 25, 14, 30, tzinfo=ZoneInfo("America/Mexico_City"))
PAYLOADS: list[EventPayload] = [
    opened("proditma"),
    te.Classified(
        actor=SERVICE,
        ticket_type="incidente",
        priority="alta",
        previous_ticket_type="incidente",
        previous_priority="media",
        reason="Afecta facturación",
    ),
    te.Assigned(actor=SERVICE, agent_id="agent-lucia", agent_name="Lucía Gómez"),
    te.InProgress(actor=SERVICE),
    te.AgentReplied(actor=SERVICE, body="Reinicie el servicio, por favor.", public=True),
    te.CustomerReplied(actor=SERVICE, body="Ya lo reinicié."),
    te.AwaitingCustomer(actor=SERVICE, request="Envíenos el XML rechazado."),
    te.ContactAttempted(actor=SERVICE, attempt=2, channel=te.Channel.PHONE),
    te.EtrUpdated(actor=SERVICE, etr=ETR),
    te.Escalated(actor=SERVICE, from_level=1, to_level=2, reason="50% del tiempo", etr=ETR),
    te.Resolved(actor=SERVICE, resolution=te.ResolutionKind.WORKAROUND, summary="Parche 1.2."),
    te.Reopened(actor=SERVICE, reason="Volvió a fallar"),
    te.Closed(actor=SERVICE, closure=te.ClosureKind.EXPIRED),
    te.NoteAdded(actor=SERVICE, body="Revisar con desarrollo."),
    te.FeatureRequestReviewed(actor=SERVICE, viable=True, target_release="7.0"),
    se.WarningRaised(
        actor=SERVICE,
        metric=Metric.RESOLUTION,
        priority="alta",
        threshold=0.75,
        deadline=ETR,
        remaining=timedelta(hours=2),
    ),
    se.Breached(actor=SERVICE, metric=Metric.FIRST_RESPONSE, priority="alta", deadline=ETR),
    se.AbandonmentWarning(actor=SERVICE, step="close", happens_at=ETR),
    se.ClockPaused(
        actor=SERVICE, metric=Metric.RESOLUTION, priority="alta", elapsed=timedelta(hours=1)
    ),
]
MESSAGES = Messages()


def recipient(language: str, customer: bool, zone: str = "America/Mexico_City") -> Recipient:
    audience = Audience.CUSTOMER if customer else Audience.SUPERVISORS
    return Recipient(
        audience, DeliveryChannel.EMAIL, "x@y.example", "Ana", language, zone, customer
    )


def story_until(index: int) -> tuple[TicketView, Story]:
    story = Story("proditma")
    ticket: TicketView | None = None
    for payload in PAYLOADS[: index + 1]:
        ticket = apply(ticket, story.event(payload), payload)
    assert ticket is not None
    return ticket, story


def render(index: int, language: str, customer: bool) -> Message:
    ticket, story = story_until(index)
    payload = PAYLOADS[index]
    return MESSAGES.render(
        event=story.event(payload),
        payload=payload,
        ticket=ticket,
        policy=POLICIES["proditma"],
        recipient=recipient(language, customer),
    )


def test_every_event_a_policy_can_route_has_a_message_kind() -> None:
    named = {p.event_name for p in PAYLOADS}
    assert set(KIND_OF_EVENT) <= named


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("customer", [True, False], ids=["customer", "staff"])
@pytest.mark.parametrize("index", range(len(PAYLOADS)), ids=[p.event_name for p in PAYLOADS])
def test_every_message_kind_renders_in_both_languages_with_the_case_number(
    index: int, language: str, customer: bool
) -> None:
    message = render(index, language, customer)
    assert message.subject.startswith("[PRO-000042]")
    assert "PRO-000042" in message.short
    assert "PRO-000042" in message.body
    greeting = "Hola Ana:" if language == "es" else "Hello Ana,"
    assert message.body.startswith(greeting)
    for leftover in ("None", "{{", "{%", "\n\n\n"):
        assert leftover not in message.body, message.body
    assert "\n" not in message.subject and len(message.subject) < 200


def test_the_acknowledgment_names_the_case_and_later_the_engineer() -> None:
    first = render(0, "es", customer=True)
    assert first.subject == "[PRO-000042] Recibimos su solicitud: La facturación no responde"
    assert "número de caso PRO-000042 (prioridad: Severidad alta)" in first.body
    assigned = render(2, "es", customer=True)
    assert assigned.subject == "[PRO-000042] El ingeniero Lucía Gómez atiende su caso"


def test_an_escalation_carries_the_etr_in_the_recipients_local_time_and_language() -> None:
    index = next(i for i, p in enumerate(PAYLOADS) if p.event_name == "ticket.escalated")
    ticket, story = story_until(index)
    payload = PAYLOADS[index]
    event = story.event(payload)

    def body(language: str, zone: str) -> str:
        return MESSAGES.render(
            event=event,
            payload=payload,
            ticket=ticket,
            policy=POLICIES["proditma"],
            recipient=recipient(language, True, zone),
        ).body

    # 14:30 in Mexico City is 15:30 in Bogotá (no DST in either in November).
    bogota = "miércoles, 25 de noviembre de 2026, 15:30, hora de Colombia"
    assert f"Tiempo estimado de solución: {bogota}." in body("es", "America/Bogota")
    mexico = "Wednesday, November 25, 2026, 2:30\u202fPM, Mexico (Mexico City) Time"
    assert f"Estimated time to recovery: {mexico}." in body("en", "America/Mexico_City")
    assert "nivel 1 al nivel 2 (Operaciones)" in body("es", "America/Bogota")
    # The reason is for staff: the customer reads the level and the ETR.
    assert "50% del tiempo" not in body("es", "America/Bogota")


def test_an_internal_reply_is_marked_internal_for_staff() -> None:
    ticket, story = story_until(0)
    reply = te.AgentReplied(actor=SERVICE, body="Revisar logs", public=False)
    message = MESSAGES.render(
        event=story.event(reply),
        payload=reply,
        ticket=ticket,
        policy=POLICIES["proditma"],
        recipient=recipient("en", False),
    )
    assert "Internal reply: the customer does not see it." in message.body


def test_an_english_speaking_contact_reads_english(tmp_path: Path) -> None:
    story = Story("bitam")
    payload = opened("bitam", JOHN)
    ticket = apply(None, story.event(payload), payload)
    message = MESSAGES.render(
        event=story.event(payload),
        payload=payload,
        ticket=ticket,
        policy=POLICIES["bitam"],
        recipient=recipient(ticket.contact.locale, True),
    )
    assert message.subject.startswith("[BIT-000042] We received your request")


def test_a_policy_overrides_a_template_and_a_broken_override_falls_back(tmp_path: Path) -> None:
    own = tmp_path / "proditma" / "es"
    own.mkdir(parents=True)
    (own / "acknowledgment.txt").write_text(
        '{% extends "es/_layout.txt" %}{% block subject %}Caso {{ case_number }} '
        "registrado{% endblock %}{% block body %}Gracias por escribir a PRODITMA.{% endblock %}"
    )
    broken = tmp_path / "es"
    broken.mkdir()
    (broken / "closed.txt").write_text("{% block subject %}{{ no_such_thing }}{% endblock %}")
    messages = Messages(tmp_path)
    ticket, story = story_until(0)

    def render_with(payload: EventPayload, policy: str = "proditma") -> Message:
        return messages.render(
            event=story.event(payload),
            payload=payload,
            ticket=ticket,
            policy=POLICIES[policy],
            recipient=recipient("es", True),
        )

    assert render_with(PAYLOADS[0]).subject == "Caso PRO-000042 registrado"
    assert "Gracias por escribir a PRODITMA." in render_with(PAYLOADS[0]).body
    # Another policy keeps the built-in acknowledgment.
    assert render_with(PAYLOADS[0], "bitam").subject.startswith("[PRO-000042] Recibimos")
    closed = te.Closed(actor=SERVICE, closure=te.ClosureKind.CONFIRMED)
    assert render_with(closed).subject == "[PRO-000042] Caso cerrado"


def test_contacts_without_a_supported_language_read_spanish() -> None:
    ticket, story = story_until(0)
    message = MESSAGES.render(
        event=story.event(PAYLOADS[0]),
        payload=PAYLOADS[0],
        ticket=ticket.model_copy(update={"contact": ANA.model_copy(update={"locale": "pt"})}),
        policy=POLICIES["proditma"],
        recipient=recipient("pt", True),
    )
    assert message.subject.startswith("[PRO-000042] Recibimos")
