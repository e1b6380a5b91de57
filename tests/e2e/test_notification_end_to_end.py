"""End to end: what people are told as a PRODITMA ticket is opened, taken and escalated (002).

A staff member opens a ticket for Ana, a registered contact who agreed on email; an
engineer takes it; the SLA runs half of the resolution time and sla-monitor escalates it.
Ana hears of each step on her channel, the level-2 group is told of the escalation with the
ETR, and the engineer and the level-1 group are warned before the first-response target is
missed — all through the real relay, streams, consumers and a real SMTP server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from e2e_system import MEXICO, System, running_system
from nats_server import NatsServer

AGENT = {"Authorization": "Bearer dev-agent"}


@pytest.fixture
def system(
    nats_server: NatsServer, postgres_env: dict[str, str], tmp_path: Path
) -> Iterator[System]:
    with running_system(nats_server, postgres_env, tmp_path, notifier=True) as running:
        yield running


def to(address: str, subject_part: str) -> Callable[[EmailMessage], bool]:
    def wanted(message: EmailMessage) -> bool:
        return address in message["To"] and subject_part in message["Subject"]

    return wanted


def test_the_customer_and_each_level_hear_of_an_escalation_with_its_etr(system: System) -> None:
    ticket_api, mail = system.ticket_api, system.mail
    assert mail is not None
    opened = ticket_api.post(
        "/v1/tickets",
        headers=AGENT,
        json={
            "policy": "proditma",
            "tenant": "acme",
            "contact": "contact-ana",  # registered: Ana Ruiz <ana@acme.example>, agreed email
            "title": "El portal no carga",
            "description": "Error 500 al entrar",
            "ticket_type": "incidente",
            "priority": "alta",
        },
    )
    assert opened.status_code == 201, opened.text
    ticket, case = opened.json()["id"], opened.json()["case_number"]
    acknowledgment = mail.wait_until(to("ana@acme.example", "Recibimos su solicitud"))
    assert acknowledgment["Subject"] == f"[{case}] Recibimos su solicitud: El portal no carga"

    taken = ticket_api.post(
        f"/v1/tickets/{ticket}/assign",
        headers={**AGENT, "If-Match": '"1"'},
        json={"agent_id": "lucia@proditma.example", "agent_name": "Lucía Gómez"},
    )
    assert taken.status_code == 200, taken.text
    system.projected(2)

    # 45 minutes into the one-hour first response: the engineer and level 1 are warned.
    system.clock.set(datetime(2026, 11, 23, 9, 45, 1, tzinfo=MEXICO))
    warning = mail.wait_until(to("lucia@proditma.example", "Aviso SLA: primera respuesta"))
    assert "Asignado a: Lucía Gómez (nivel 1)." in warning.get_content()
    mail.wait_until(to("mesadeayuda@proditmapac.com", "Aviso SLA: primera respuesta"))

    # Half of the 8-hour resolution target: level 2 (Operaciones), with an ETR.
    system.clock.set(datetime(2026, 11, 23, 13, 0, 1, tzinfo=MEXICO))
    system.projected(3)
    escalated = next(e for e in system.history(ticket) if e["type"] == "ticket.escalated")
    etr = datetime.fromisoformat(escalated["data"]["etr"]).astimezone(MEXICO)
    subject = f"[{case}] Caso escalado al nivel 2: Operaciones"
    to_ana = mail.wait_until(to("ana@acme.example", subject))
    to_level_2 = mail.wait_until(to("soportetecnico@proditmapac.com", subject))
    hour = f"{etr:%H:%M}"
    for message in (to_ana, to_level_2):
        body = message.get_content()
        assert "pasó del nivel 1 al nivel 2 (Operaciones)" in body
        assert "Tiempo estimado de solución: " in body
        assert f", {hour}, hora de México (Ciudad de México)." in body  # local time, in Spanish
    assert "Motivo:" in to_level_2.get_content() and "Motivo:" not in to_ana.get_content()

    # The delivery log tells staff exactly who was told what.
    assert system.notifier is not None
    log = system.notifier.get(
        "/v1/deliveries",
        params={"ticket_id": ticket, "status": "sent"},
        headers={"Authorization": "Bearer dev-supervisor"},
    ).json()["items"]
    told = {(d["event_type"], d["recipient"]) for d in log}
    assert {
        ("ticket.opened", "ana@acme.example"),
        ("sla.warning", "lucia@proditma.example"),
        ("ticket.escalated", "ana@acme.example"),
        ("ticket.escalated", "soportetecnico@proditmapac.com"),
    } <= told
