"""End to end: a ticket's SLA runs out and the policy's escalation happens on the ticket itself.

ticket-api (SQLite store, outbox relay) → NATS JetStream → sla-monitor (projection, timers,
PostgreSQL) → ticket-api's REST API as the service principal → the Escalated event goes round
again. One manual clock drives both services; every wait is on a consumer having handled a
given number of events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from e2e_system import MEXICO, POLICIES, System, running_system
from fastapi.testclient import TestClient
from nats_server import NatsServer

from servicekit import personal_data
from servicekit.clock import ManualClock
from servicekit.simclock import set_shared_time
from sla_monitor.commands import TicketApiCommands
from sla_monitor.main import create_app as sla_monitor_app
from sla_monitor.settings import Settings as SlaSettings
from ticket_api.main import create_app as ticket_api_app
from ticket_api.settings import DEV_PRINCIPALS
from ticket_api.settings import Settings as TicketSettings

CUSTOMER = {"Authorization": "Bearer dev-customer"}
AGENT = {"Authorization": "Bearer dev-agent"}


@pytest.fixture
def system(
    nats_server: NatsServer, postgres_env: dict[str, str], tmp_path: Path
) -> Iterator[System]:
    with running_system(nats_server, postgres_env, tmp_path) as running:
        yield running


def test_an_unresolved_proditma_ticket_climbs_to_level_3_with_an_etr_each_time(
    system: System,
) -> None:
    clock, ticket_api, sla_monitor = system.clock, system.ticket_api, system.sla_monitor
    opened = ticket_api.post(
        "/v1/tickets",
        headers=CUSTOMER,
        json={
            "policy": "proditma",
            "title": "El portal no carga",
            "description": "Error 500",
            "ticket_type": "incidente",
            "priority": "alta",
        },
    )
    assert opened.status_code == 201
    ticket = opened.json()["id"]
    system.projected(1)

    # Half of the 8-business-hour resolution target: level 2, with an ETR.
    clock.set(datetime(2026, 11, 23, 13, 0, 1, tzinfo=MEXICO))
    system.projected(2)
    # Four more business hours at level 2: level 3.
    clock.set(datetime(2026, 11, 23, 17, 0, 2, tzinfo=MEXICO))
    system.projected(3)

    escalations = [e for e in system.history(ticket) if e["type"] == "ticket.escalated"]
    assert [(e["data"]["from_level"], e["data"]["to_level"]) for e in escalations] == [
        (1, 2),
        (2, 3),
    ]
    assert all(e["actor"]["id"] == "sla-monitor" for e in escalations)
    assert all(e["data"]["etr"] for e in escalations)
    assert ticket_api.get(f"/v1/tickets/{ticket}", headers=AGENT).json()["level"] == 3

    # The dashboards see the resolution promise broken at 17:00, eight business hours in.
    clock.advance(timedelta(days=1))
    clocks = sla_monitor.get(f"/v1/sla/tickets/{ticket}", headers=AGENT).json()["clocks"]
    resolution = next(c for c in clocks if c["metric"] == "resolution")
    assert resolution["status"] == "breached"
    assert resolution["deadline"]["local"].startswith("2026-11-23T17:00")


def test_a_silent_bitam_customer_gets_the_ticket_resolved_as_abandoned_then_closed(
    system: System,
) -> None:
    clock, ticket_api = system.clock, system.ticket_api
    ticket = ticket_api.post(
        "/v1/tickets",
        headers=CUSTOMER,
        json={
            "policy": "bitam",
            "title": "Reporte vacío",
            "description": "El reporte sale vacío",
            "ticket_type": "soporte",
            "priority": "media",
            "product": "ebavel",
            "product_version": "6.6",
        },
    ).json()["id"]
    for command, body in (
        ("assign", {"agent_id": "agent-lucia", "agent_name": "Lucía"}),
        ("start", {}),
        ("await-customer", {"request": "¿Qué filtro usa?"}),
    ):
        assert (
            ticket_api.post(f"/v1/tickets/{ticket}/{command}", json=body, headers=AGENT).status_code
            == 200
        )
    system.projected(4)

    clock.set(datetime(2026, 11, 30, 9, 0, 1, tzinfo=MEXICO))  # 7 calendar days of silence
    system.projected(5)  # Resolved (abandoned)
    clock.set(datetime(2026, 12, 22, 9, 0, 1, tzinfo=MEXICO))  # 15 business days later
    system.projected(6)  # Closed (abandoned)

    tail = system.history(ticket)[-2:]
    assert [(e["type"], e["actor"]["id"]) for e in tail] == [
        ("ticket.resolved", "sla-monitor"),
        ("ticket.closed", "sla-monitor"),
    ]
    assert tail[0]["data"]["resolution"] == "abandoned"
    assert tail[1]["data"]["closure"] == "abandoned"


def test_btw_closes_a_case_on_the_fourth_unanswered_attempt(system: System) -> None:
    ticket_api = system.ticket_api
    ticket = ticket_api.post(
        "/v1/tickets",
        headers=CUSTOMER,
        json={
            "policy": "btw",
            "title": "XML rechazado",
            "description": "La DIAN rechaza el XML",
            "ticket_type": "soporte",
            "subcategory": "error-xml",
            "intake": {
                "nit": "900123456-7",
                "nombre-contacto": "Ana Ruiz",
                "correo-contacto": "ana@acme.example",
                "telefono-contacto": "+57 300 000 0000",
                "evidencia": {"name": "error.png", "media_type": "image/png"},
            },
        },
    ).json()["id"]
    steps = [
        ("assign", {"agent_id": "agent-lucia", "agent_name": "Lucía"}),
        ("start", {}),
        ("await-customer", {"request": "Envíe el XML completo"}),
    ]
    steps += [("contact-attempts", {"channel": "phone"})] * 4
    for command, body in steps:
        assert (
            ticket_api.post(f"/v1/tickets/{ticket}/{command}", json=body, headers=AGENT).status_code
            == 200
        )
    system.projected(len(steps) + 2)  # the fourth attempt closes it at once

    closed = system.history(ticket)[-1]
    assert (closed["type"], closed["data"]["closure"]) == ("ticket.closed", "abandoned")
    assert closed["actor"]["id"] == "sla-monitor"


def test_with_the_shared_simulated_clock_advancing_time_escalates_across_services(
    nats_server: NatsServer,
    postgres_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The operator's command sets the starting instant; both services read it through NATS.
    monday = datetime(2026, 11, 23, 9, tzinfo=MEXICO)
    asyncio.run(set_shared_time(nats_server.url, to=monday))
    tickets = ticket_api_app(
        TicketSettings(
            data_dir=tmp_path,
            policies_dir=POLICIES,
            dev_keys=DEV_PRINCIPALS,
            nats_url=nats_server.url,
            simulated_clock=True,
        ),
        environ={},
    )
    sla = sla_monitor_app(
        SlaSettings(
            policies_dir=POLICIES,
            nats_url=nats_server.url,
            ticket_api_url="http://t",  # data keys (ADR 23), through IN_PROCESS
            timer_poll_seconds=0.05,
            simulated_clock=True,
            postgres_host=postgres_env["POSTGRES_HOST"],
            postgres_port=int(postgres_env["POSTGRES_PORT"]),
            postgres_user=postgres_env["POSTGRES_USER"],
            postgres_password=postgres_env["POSTGRES_PASSWORD"],
            postgres_dbname=postgres_env["POSTGRES_DBNAME"],
        ),
        commands=TicketApiCommands(
            httpx2.AsyncClient(transport=httpx2.ASGITransport(app=tickets), base_url="http://t"),
            "dev-service",
        ),
    )
    monkeypatch.setitem(personal_data.IN_PROCESS, "http://t", httpx2.ASGITransport(app=tickets))
    with TestClient(tickets) as ticket_api, TestClient(sla) as sla_monitor:
        system = System(ManualClock(monday), ticket_api, sla_monitor)
        ticket = ticket_api.post(
            "/v1/tickets",
            headers=CUSTOMER,
            json={
                "policy": "proditma",
                "title": "Sin acceso",
                "description": "Error 500",
                "ticket_type": "incidente",
                "priority": "alta",
            },
        ).json()
        assert ticket["created_at"].startswith("2026-11-23T15:00")  # stamped in simulated time
        system.projected(1)
        asyncio.run(set_shared_time(nats_server.url, advance=timedelta(hours=4, seconds=1)))
        system.projected(2)
        assert ticket_api.get(f"/v1/tickets/{ticket['id']}", headers=AGENT).json()["level"] == 2


def test_a_crash_between_sending_an_escalation_and_recording_it_escalates_only_once(
    system: System,
) -> None:
    clock, ticket_api = system.clock, system.ticket_api
    timers = system.sla_monitor.app.state.background.timers  # type: ignore[attr-defined]
    real_command = timers._command
    crashes = 0

    async def send_then_die(row: Any, now: datetime) -> str:
        nonlocal crashes
        key: str = await real_command(row, now)
        if crashes == 0:
            crashes += 1
            raise RuntimeError("sla-monitor killed before recording the timer")
        return key

    timers._command = send_then_die
    ticket = ticket_api.post(
        "/v1/tickets",
        headers=CUSTOMER,
        json={
            "policy": "proditma",
            "title": "El portal no carga",
            "description": "Error 500",
            "ticket_type": "incidente",
            "priority": "alta",
        },
    ).json()["id"]
    system.projected(1)
    clock.set(datetime(2026, 11, 23, 13, 0, 1, tzinfo=MEXICO))
    system.projected(2)  # the Escalated event, whichever attempt produced it
    system.sla_monitor.portal.call(  # type: ignore[union-attr]
        asyncio.wait_for, timers.wait_fired(1), 30
    )  # the retry went through and was recorded

    escalations = [e for e in system.history(ticket) if e["type"] == "ticket.escalated"]
    assert crashes == 1
    assert len(escalations) == 1  # the retry carried the same Idempotency-Key
