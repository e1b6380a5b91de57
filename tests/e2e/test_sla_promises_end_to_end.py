"""End to end: the SLA promises kept to the letter, through every service.

ticket-api → NATS (TICKETS) → sla-monitor (projection, timers) → NATS (SLA) → notifier → a real
SMTP receiver, on one manual clock:

- a reply that comes after the deadline, before the timer loop noticed it, still announces the
  breach — once, ahead of the Met — and the breach is mailed once;
- PRODITMA's agreed frequency of updates: after the first public reply the agent owes the
  customer a message every period; silence past it is a breach, mailed like any other;
- BITAM's customer hears two business days before an abandoned ticket closes, inside desk
  hours, and the ticket then closes as announced.

Every instant is worked by hand in the comments (Mexico City time, desk 08:30–18:00 for BITAM
and 09:00–18:00 for PRODITMA, Mexican holidays).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from e2e_system import MEXICO, running_system
from nats_server import NatsServer
from sla_acceptance import Desk, address, instant, subject

BITAM_TICKET = {
    "policy": "bitam",
    "title": "Reporte vacío",
    "description": "El reporte de ventas sale vacío",
    "ticket_type": "soporte",
    "product": "ebavel",
    "product_version": "6.6",
}


def mx(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """An instant of 2026 in Mexico City (UTC−6 all year)."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=MEXICO)


@pytest.fixture
def desk(nats_server: NatsServer, postgres_env: dict[str, str], tmp_path: Path) -> Iterator[Desk]:
    with running_system(
        nats_server, postgres_env, tmp_path, notifier=True, start=mx(11, 23, 9)
    ) as system:
        yield Desk(system)


def test_a_reply_after_the_deadline_is_announced_as_a_breach_and_mailed(desk: Desk) -> None:
    # BITAM "Media": first response within 4 business hours. Opened Monday 23 November at
    # 09:00 (desk open since 08:30): 09:00 + 4 h = 13:00, the same day. The warning at 75 %
    # (3 h) is due at 12:00.
    ticket, case = desk.open({**BITAM_TICKET, "priority": "media"})
    desk.act(ticket, "assign", {"agent_id": "lucia@bitam.example", "agent_name": "Lucía"})
    desk.settle()
    first = desk.clocks(case)["first_response"]
    assert (first["status"], instant(first["deadline"])) == ("running", mx(11, 23, 13))

    desk.at(mx(11, 23, 12))  # the warning fires, and is mailed to the agent
    warned = [m for m in desk.new_mail() if "Aviso SLA: primera respuesta" in subject(m)]
    assert [address(m) for m in warned] == ["lucia@bitam.example"]

    # 13:05: five minutes late. The agent's reply lands before the timer loop's next pass.
    with desk.held_timers():
        desk.clock.set(mx(11, 23, 13, 5))
        events = desk.ticket_events()
        desk.act(ticket, "replies", {"body": "Estamos revisando el reporte", "public": True})
        desk.projected(events + 1)
    desk.settle()

    first_response = [e for e in desk.sla_events(ticket) if e.metric == "first_response"]
    names = [e.name for e in first_response]
    assert names == ["sla.clock_started", "sla.warning", "sla.breached", "sla.met"], names
    breached, met = first_response[2], first_response[3]
    # The breach happened at 13:00, and says so; the Met is late, against the same deadline.
    assert breached.deadline == breached.time == mx(11, 23, 13).astimezone(UTC)
    assert breached.id == f"{ticket}:first_response:breach:1.0:2026-11-23T19:00:00+00:00"
    assert met.data["late"] is True
    assert met.deadline == mx(11, 23, 13).astimezone(UTC)
    # The timer loop ran after the reply and did not announce the breach a second time.
    assert [e.name for e in desk.sla_events(ticket)].count("sla.breached") == 1

    first = desk.clocks(case)["first_response"]
    assert (first["status"], first["late"]) == ("met", True)
    assert instant(first["deadline"]) == mx(11, 23, 13)
    assert instant(first["met_at"]) == mx(11, 23, 13, 5)

    breach_mail = [m for m in desk.mail.messages if "SLA incumplido" in subject(m)]
    assert [(address(m), subject(m)) for m in breach_mail] == [
        ("lucia@bitam.example", f"[{case}] SLA incumplido: primera respuesta")
    ]
    breach_deliveries = [
        d for d in desk.deliveries(ticket_id=ticket) if d["event_type"] == "sla.breached"
    ]
    assert [(d["recipient"], d["status"]) for d in breach_deliveries] == [
        ("lucia@bitam.example", "sent")
    ]


def test_periodic_updates_are_enforced_for_proditma(desk: Desk) -> None:
    # PRODITMA "Severidad alta" (desk Monday–Friday 09:00–18:00, Mexico City): first response
    # within 1 business hour, then a message to the customer every 2 business hours (update),
    # warned at 75 % (1 h 30 min). Opened Monday 23 November at 09:00.
    ticket, case = desk.open(
        {
            "policy": "proditma",
            "title": "El portal no carga",
            "description": "Error 500 al entrar",
            "ticket_type": "incidente",
            "priority": "alta",
        }
    )
    desk.act(ticket, "assign", {"agent_id": "lucia@proditma.example", "agent_name": "Lucía"})
    desk.settle()
    assert desk.clocks(case)["update"]["status"] == "pending"  # nothing owed before a reply

    # 09:30 the first public reply: first response met; update period 1 runs from 09:30,
    # due 09:30 + 2 h = 11:30, warned at 09:30 + 1 h 30 = 11:00.
    desk.at(mx(11, 23, 9, 30))
    desk.act(ticket, "replies", {"body": "Lo estamos revisando", "public": True})
    desk.settle()
    update = desk.clocks(case)["update"]
    assert (update["status"], update["cycle"]) == ("running", 1)
    assert instant(update["deadline"]) == mx(11, 23, 11, 30)

    # The agent stays silent. 11:00: the warning; 11:30: the breach, each mailed to the agent
    # and to level 1 (Mesa de Ayuda); the supervisors' group has no mailbox.
    desk.at(mx(11, 23, 11))
    desk.at(mx(11, 23, 11, 30))
    update = desk.clocks(case)["update"]
    assert (update["status"], update["cycle"]) == ("breached", 1)
    mail = [(address(m), subject(m)) for m in desk.new_mail() if "SLA" in subject(m)]
    assert sorted(mail) == sorted(
        [
            (
                "lucia@proditma.example",
                f"[{case}] Aviso SLA: actualización vence lun, 23 nov 2026 11:30",
            ),
            (
                "mesadeayuda@proditmapac.com",
                f"[{case}] Aviso SLA: actualización vence lun, 23 nov 2026 11:30",
            ),
            ("lucia@proditma.example", f"[{case}] SLA incumplido: actualización"),
            ("mesadeayuda@proditmapac.com", f"[{case}] SLA incumplido: actualización"),
        ]
    )

    # 11:45 the next public message ends period 1 (met late) and starts period 2: due
    # 11:45 + 2 h = 13:45, warned at 13:15. (At 13:00, half of the 8-hour resolution, the
    # ticket climbs to level 2, Operaciones: its mailbox hears of period 2's breach.)
    desk.at(mx(11, 23, 11, 45))
    desk.act(ticket, "replies", {"body": "Avance: identificamos la causa", "public": True})
    desk.settle()
    update = desk.clocks(case)["update"]
    assert (update["status"], update["cycle"]) == ("running", 2)
    assert instant(update["deadline"]) == mx(11, 23, 13, 45)
    (period_1,) = update["earlier_cycles"]
    assert (period_1["cycle"], period_1["late"], period_1["breached"]) == (1, True, True)
    assert instant(period_1["met_at"]) == mx(11, 23, 11, 45)

    desk.at(mx(11, 23, 13, 45))
    update = desk.clocks(case)["update"]
    assert (update["status"], update["cycle"]) == ("breached", 2)

    breaches = [
        (address(m), subject(m)) for m in desk.mail.messages if "SLA incumplido" in subject(m)
    ]
    assert sorted(breaches) == sorted(
        [
            ("lucia@proditma.example", f"[{case}] SLA incumplido: actualización"),
            ("mesadeayuda@proditmapac.com", f"[{case}] SLA incumplido: actualización"),
            ("lucia@proditma.example", f"[{case}] SLA incumplido: actualización"),
            ("soportetecnico@proditmapac.com", f"[{case}] SLA incumplido: actualización"),
        ]
    )
    updates = [e.short for e in desk.sla_events(ticket) if e.metric == "update"]
    assert updates == [
        ("sla.clock_started", "update", 1, mx(11, 23, 11, 30)),
        ("sla.warning", "update", 1, mx(11, 23, 11, 30)),
        ("sla.breached", "update", 1, mx(11, 23, 11, 30)),
        ("sla.met", "update", 1, mx(11, 23, 11, 30)),
        ("sla.clock_started", "update", 2, mx(11, 23, 13, 45)),
        ("sla.warning", "update", 2, mx(11, 23, 13, 45)),
        ("sla.breached", "update", 2, mx(11, 23, 13, 45)),
    ]


def test_the_customer_is_told_two_business_days_before_an_abandoned_bitam_ticket_closes(
    desk: Desk,
) -> None:
    # BITAM (desk Monday–Friday 08:30–18:00, Mexico City; Friday 25 December is a holiday):
    # abandoned after 7 calendar days without the customer's answer, resolved, closed 15
    # business days (of 9.5 h) later, the customer told 2 business days before the close.
    desk.at(mx(11, 27, 17))  # Friday 27 November 17:00: opened, taken
    ticket, case = desk.open({**BITAM_TICKET, "priority": "media"})
    desk.act(ticket, "assign", {"agent_id": "lucia@bitam.example", "agent_name": "Lucía"})
    desk.act(ticket, "start", {})
    desk.at(mx(11, 27, 20))  # 20:00, the desk closed: the agent asks the customer
    desk.act(ticket, "await-customer", {"request": "¿Qué filtro usa en el reporte?"})
    desk.settle()
    desk.new_history(ticket)
    desk.new_mail()
    desk.new_sla_events()

    # 7 calendar days of silence: Friday 4 December 20:00, sla-monitor resolves it as abandoned.
    desk.at(mx(12, 4, 20))
    (resolved,) = desk.new_history(ticket)
    assert (resolved["type"], resolved["actor"]["id"]) == ("ticket.resolved", "sla-monitor")
    assert resolved["data"]["resolution"] == "abandoned"
    # The close: 15 business days (142.5 h) counted from the next opening, Monday 7 December
    # 08:30: 7–11 (5), 14–18 (10), 21–24 (14), Christmas on the 25th, Monday 28 (15) → Monday
    # 28 December 18:00. The notice: 2 business days before it is the end of Wednesday 23
    # (18:00, closing time): it goes at the next opening, Thursday 24 December 08:30 — still
    # exactly two business days (the 24th and the 28th) before the close.
    close, notice = mx(12, 28, 18), mx(12, 24, 8, 30)
    announced = [e for e in desk.new_sla_events() if e.name == "sla.abandonment_warning"]
    assert [(e.data["step"], e.deadline) for e in announced] == [("close", close)]
    to_customer = [(address(m), subject(m)) for m in desk.new_mail()]
    closes = f"[{case}] Su caso se cerrará el lun, 28 dic 2026 18:00"
    assert ("ana@acme.example", closes) in to_customer

    desk.at(mx(12, 24, 8, 29, 59))  # a second early: nothing yet
    assert desk.new_mail() == []
    desk.at(notice)
    assert [(address(m), subject(m)) for m in desk.new_mail()] == [("ana@acme.example", closes)]
    (warning,) = desk.new_sla_events()
    assert (warning.name, warning.data["step"]) == ("sla.abandonment_warning", "close")
    assert (warning.time, warning.deadline) == (notice, close)
    sent = [
        d for d in desk.deliveries(ticket_id=ticket) if d["event_type"] == "sla.abandonment_warning"
    ]
    assert [datetime.fromisoformat(d["sent_at"]) for d in sent][-1] == notice

    desk.at(mx(12, 28, 17, 59, 59))  # the ticket stays resolved until the close
    assert desk.new_history(ticket) == []
    desk.at(close)
    (closed,) = desk.new_history(ticket)
    assert (closed["type"], closed["actor"]["id"]) == ("ticket.closed", "sla-monitor")
    assert closed["data"]["closure"] == "abandoned"
    closing = [(address(m), subject(m)) for m in desk.new_mail()]
    assert [to for to, _ in closing] == ["ana@acme.example"]
