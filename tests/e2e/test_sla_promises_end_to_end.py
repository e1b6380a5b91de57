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
from sla_acceptance import Desk, address, instant

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
    warned = [m for m in desk.new_mail() if "Aviso SLA: primera respuesta" in m["Subject"]]
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

    breach_mail = [m for m in desk.mail.messages if "SLA incumplido" in m["Subject"]]
    assert [(address(m), m["Subject"]) for m in breach_mail] == [
        ("lucia@bitam.example", f"[{case}] SLA incumplido: primera respuesta")
    ]
    breach_deliveries = [
        d for d in desk.deliveries(ticket_id=ticket) if d["event_type"] == "sla.breached"
    ]
    assert [(d["recipient"], d["status"]) for d in breach_deliveries] == [
        ("lucia@bitam.example", "sent")
    ]
