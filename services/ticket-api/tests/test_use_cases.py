"""The desk's use cases told as stories, without HTTP: TicketDesk on SQLite, a manual clock.

What these stories show is that each rule has one home the desk applies whoever asks — the
policy's highest level and reopen window, the reclassification defaults, a customer's reply by
mail or by REST — so the REST suite only has to show the translation to HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from conftest import BTW_INTAKE, POLICIES, T0
from contracts.policy import load_policies
from contracts.vocabulary import TicketState
from servicekit.clock import ManualClock
from ticket_api.application import StaleVersion, TicketDesk
from ticket_api.attachments import AttachmentStore
from ticket_api.commands import (
    Assign,
    AwaitCustomer,
    Caller,
    Escalate,
    Idempotency,
    OpenTicket,
    Reclassify,
    Reopen,
    Reply,
    Resolve,
)
from ticket_api.dev_seed import seed_development_directory
from ticket_api.directory import Directory
from ticket_api.domain.errors import InvalidCommand, PolicyRuleBroken, TicketRuleBroken
from ticket_api.email_intake import EmailIntake
from ticket_api.email_limits import EmailLimits
from ticket_api.settings import Settings

ANA = Caller({"kind": "customer", "id": "contact-ana", "name": "Ana Ruiz"})
LUCIA = Caller({"kind": "agent", "id": "agent-lucia", "name": "Lucía Gómez"})
SLA_MONITOR = Caller({"kind": "service", "id": "sla-monitor", "name": None})
ANA_CONTACT = {"id": "contact-ana", "name": "Ana Ruiz", "email": "ana@acme.example", "locale": "es"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)  # a Tuesday, 09:00 in Mexico City


@pytest.fixture
def desk(tmp_path: Path, clock: ManualClock) -> Iterator[TicketDesk]:
    app = TicketDesk(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "es.db")},
        policies=load_policies(POLICIES),
        clock=clock,
    )
    yield app
    app.close()


def request(policy: str, **details: Any) -> OpenTicket:
    """Ana of acme asks for help under ``policy``."""
    return OpenTicket(
        **{
            "policy": policy,
            "tenant": "acme",
            "contact": ANA_CONTACT,
            "title": "El portal no responde",
            "description": "Desde las 9:00 el portal devuelve error 500.",
            **details,
        }
    )


def worked_on(desk: TicketDesk, opening: OpenTicket) -> UUID:
    """A ticket Lucía has taken and is working on."""
    ticket = desk.open(opening, ANA).ticket.id
    desk.assign(ticket, Assign(agent_id="agent-lucia", agent_name="Lucía Gómez"), LUCIA)
    desk.start(ticket, LUCIA)
    return ticket


BITAM = {
    "ticket_type": "soporte",
    "priority": "alta",
    "product": "ebavel",
    "product_version": "6.6",
}


def test_an_agent_cannot_escalate_past_the_policys_highest_level(
    desk: TicketDesk, clock: ManualClock
) -> None:
    # IKHODI's policy has two support levels: a ticket goes up to 2, never to 3.
    ikhodi = worked_on(desk, request("ikhodi", ticket_type="problemas-basicos", priority="p2"))
    etr = clock.now() + timedelta(hours=4)
    with pytest.raises(InvalidCommand) as refused:
        desk.escalate(ikhodi, Escalate(to_level=3, reason="Crítico", etr=etr), LUCIA)
    assert refused.value.code == "bad-level" and "up to 2" in refused.value.en
    assert desk.escalate(ikhodi, Escalate(2, "Sin avance", etr), SLA_MONITOR).ticket.level == 2

    # BITAM's policy leaves escalation out: the three classic levels, and no fourth.
    bitam = worked_on(desk, request("bitam", **BITAM))
    assert desk.escalate(bitam, Escalate(3, "Falla de plataforma", etr), LUCIA).ticket.level == 3
    with pytest.raises(InvalidCommand, match="up to 3"):
        desk.escalate(bitam, Escalate(4, "Más arriba", etr), LUCIA)


def test_a_resolved_ticket_reopens_only_within_the_policys_window(
    desk: TicketDesk, clock: ManualClock
) -> None:
    # BITAM keeps a resolved ticket open for comments 15 business days (000).
    ticket = worked_on(desk, request("bitam", **BITAM))
    resolved = desk.resolve(ticket, Resolve("workaround", "Use el reporte alterno"), LUCIA).ticket
    assert resolved.reopen_until == T0 + timedelta(days=21)  # three weeks of business days

    # Within the window the customer reopens it (and it goes back to the agent) ...
    clock.set(T0 + timedelta(days=20))
    assert desk.reopen(ticket, Reopen("Sigue fallando"), ANA).ticket.state is (
        TicketState.IN_PROGRESS
    )

    # ... and a second resolution opens a new window, counted from then; after it, no reopen.
    again = desk.resolve(ticket, Resolve("solution", "Corregido"), LUCIA).ticket
    # (Christmas and New Year's Day are holidays in Mexico: the window is longer this time.)
    assert again.reopen_until is not None and again.reopen_until > clock.now() + timedelta(days=21)
    clock.set(again.reopen_until + timedelta(minutes=1))
    with pytest.raises(TicketRuleBroken) as refused:
        desk.reopen(ticket, Reopen("Volvió a fallar"), ANA)
    assert refused.value.code == "reopen-window-over" and "follow-up" in refused.value.en

    # A policy without a window lets a resolved ticket reopen until it is closed.
    btw = worked_on(desk, request("btw", ticket_type="soporte", priority="p3", intake=BTW_INTAKE))
    assert desk.resolve(btw, Resolve("solution", "Listo"), LUCIA).ticket.reopen_until is None


def test_reclassifying_keeps_what_is_not_named_and_the_subcategory_decides_the_priority(
    desk: TicketDesk,
) -> None:
    opening = request("btw", ticket_type="soporte", subcategory="error-xml", intake=BTW_INTAKE)
    ticket = worked_on(desk, opening)
    assert desk.ticket(ticket).priority == "p2"  # Error XML is priority 2 at BTW (004)

    # Naming another subcategory keeps the type, and the subcategory sets the priority.
    moved = desk.reclassify(ticket, Reclassify("Es la DIAN", subcategory="error-500-dian"), LUCIA)
    assert (moved.ticket.ticket_type, moved.ticket.priority) == ("soporte", "p1")

    # The subcategory stays when only a priority is named, and it still decides.
    with pytest.raises(PolicyRuleBroken) as refused:
        desk.reclassify(ticket, Reclassify("Menos urgente", priority="p3"), LUCIA)
    assert refused.value.code == "subcategory-priority"

    # Another type drops the subcategory (it belongs to its type); the priority stays.
    other = desk.reclassify(
        ticket, Reclassify("Es implementación", ticket_type="implementacion"), LUCIA
    )
    assert (other.ticket.ticket_type, other.ticket.subcategory, other.ticket.priority) == (
        "implementacion",
        None,
        "p1",
    )


def test_a_customer_reply_by_email_and_by_rest_are_the_same_use_case(
    desk: TicketDesk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = Directory(desk)
    seed_development_directory(directory)  # Ana Ruiz, contact of acme, writes from her address
    settings = Settings(data_dir=tmp_path, policies_dir=POLICIES)
    mailbox = EmailIntake(
        desk,
        directory,
        AttachmentStore(tmp_path / "files", 1_000_000, frozenset({"image/png"})),
        limits=EmailLimits.from_settings(settings),
    )
    replies: list[Caller] = []
    reply = desk.reply

    def spy(ticket_id: UUID, command: Reply, caller: Caller) -> Any:
        replies.append(caller)
        return reply(ticket_id, command, caller)

    monkeypatch.setattr(desk, "reply", spy)
    ticket = worked_on(
        desk, request("btw", ticket_type="soporte", priority="p3", intake=BTW_INTAKE)
    )
    case_number = desk.ticket(ticket).case_number
    ask = AwaitCustomer("Envíe el XML de la factura")

    # Through REST the view calls the use case with Ana as the caller ...
    desk.await_customer(ticket, ask, LUCIA)
    desk.reply(ticket, Reply("Adjunto el XML", channel="portal"), ANA)

    # ... and her mail about the case reaches the very same use case.
    desk.await_customer(ticket, ask, LUCIA)
    message = EmailMessage()
    message["From"], message["To"] = "Ana Ruiz <ana@acme.example>", "soporte@btw.com.co"
    message["Subject"], message["Message-ID"] = f"Re: [{case_number}] XML", "<m1@acme.example>"
    message.set_content("Adjunto el XML\n\nEl lun. escribió:\n> Envíe el XML")
    assert mailbox.receive(message.as_bytes()).action == "replied"

    assert [caller.actor["id"] for caller in replies] == ["contact-ana", "contact-ana"]
    answers = [e for e in desk.history(ticket) if type(e).__name__ == "CustomerReplied"]
    assert [(e.body, e.channel) for e in answers] == [  # type: ignore[attr-defined]
        ("Adjunto el XML", "portal"),
        ("Adjunto el XML", "email"),
    ]
    assert desk.ticket(ticket).state is TicketState.IN_PROGRESS  # each answer resumed the work


def test_a_retry_gets_the_first_answer_and_a_stale_version_changes_nothing(
    desk: TicketDesk,
) -> None:
    ticket = desk.open(request("bitam", **BITAM), ANA).ticket
    key = Idempotency("acme:agent:agent-lucia", "assign-1", "fingerprint")
    assign = Assign(agent_id="agent-lucia", agent_name="Lucía Gómez")
    retrying = Caller(LUCIA.actor, idempotency=key)

    first = desk.assign(ticket.id, assign, retrying)
    again = desk.assign(ticket.id, assign, retrying)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.ticket.version == first.ticket.version == 2

    # If-Match of version 1: Lucía had not seen her own assignment, so the start is refused.
    with pytest.raises(StaleVersion) as stale:
        desk.start(ticket.id, Caller(LUCIA.actor, expected_version=1))
    assert stale.value.current == 2
    assert desk.ticket(ticket.id).state is TicketState.OPEN


def test_each_stored_event_carries_the_trace_context_of_the_request_that_caused_it(
    desk: TicketDesk,
) -> None:
    # The caller brings the trace context; the desk sets it for the use case, and every event
    # the use case causes (a customer's reply reopening a resolved ticket: two) keeps it.
    def traced(n: int) -> dict[str, str]:
        return {"traceparent": f"00-{n:032x}-{n:016x}-01", "tracestate": f"desk={n}"}

    ticket = desk.open(request("bitam", **BITAM), Caller(ANA.actor, traced(1))).ticket.id
    desk.assign(ticket, Assign("agent-lucia", "Lucía Gómez"), Caller(LUCIA.actor, traced(2)))
    desk.start(ticket, LUCIA)  # no trace context: none is stored
    desk.resolve(ticket, Resolve("workaround", "Use el reporte alterno"), LUCIA)
    desk.reply(ticket, Reply(body="Sigue fallando"), Caller(ANA.actor, traced(3)))

    stored = [(type(e).__name__, e.trace) for e in desk.events.get(ticket)]
    assert stored == [
        ("Opened", traced(1)),
        ("Assigned", traced(2)),
        ("InProgress", {}),
        ("Resolved", {}),
        ("Reopened", traced(3)),
        ("CustomerReplied", traced(3)),
    ]
