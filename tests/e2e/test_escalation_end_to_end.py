"""End to end: a ticket's SLA runs out and the policy's escalation happens on the ticket itself.

ticket-api (SQLite store, outbox relay) → NATS JetStream → sla-monitor (projection, timers,
PostgreSQL) → ticket-api's REST API as the service principal → the Escalated event goes round
again. One manual clock drives both services; every wait is on a consumer having handled a
given number of events.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx2
from fastapi.testclient import TestClient
from nats_server import NatsServer

from contracts.clock import ManualClock
from sla_monitor.commands import TicketApiCommands
from sla_monitor.main import create_app as sla_monitor_app
from sla_monitor.settings import Settings as SlaSettings
from ticket_api.main import create_app as ticket_api_app
from ticket_api.settings import DEV_PRINCIPALS
from ticket_api.settings import Settings as TicketSettings

POLICIES = Path(__file__).resolve().parents[2] / "policies"
MEXICO = ZoneInfo("America/Mexico_City")
CUSTOMER = {"Authorization": "Bearer dev-customer"}
AGENT = {"Authorization": "Bearer dev-agent"}


def test_an_unresolved_proditma_ticket_climbs_to_level_3_with_an_etr_each_time(
    nats_server: NatsServer, postgres_env: dict[str, str], tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 9, tzinfo=MEXICO))  # Monday, desk 09:00-18:00
    tickets = ticket_api_app(
        TicketSettings(
            data_dir=tmp_path,
            policies_dir=POLICIES,
            dev_keys=DEV_PRINCIPALS,
            nats_url=nats_server.url,
        ),
        clock=clock,
        environ={},
    )
    commands = TicketApiCommands(
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=tickets), base_url="http://t"),
        "dev-service",
    )
    sla = sla_monitor_app(
        SlaSettings(
            policies_dir=POLICIES,
            nats_url=nats_server.url,
            timer_poll_seconds=0.05,
            postgres_host=postgres_env["POSTGRES_HOST"],
            postgres_port=int(postgres_env["POSTGRES_PORT"]),
            postgres_user=postgres_env["POSTGRES_USER"],
            postgres_password=postgres_env["POSTGRES_PASSWORD"],
            postgres_dbname=postgres_env["POSTGRES_DBNAME"],
            dev_mode=True,
        ),
        clock=clock,
        commands=commands,
    )
    with TestClient(tickets) as ticket_api, TestClient(sla) as sla_monitor:
        consumer = sla_monitor.app.state.background.consumer  # type: ignore[attr-defined]

        def projected(events: int) -> None:
            sla_monitor.portal.call(  # type: ignore[union-attr]
                asyncio.wait_for, consumer.wait_handled(events), 30
            )

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
        projected(1)

        # Half of the 8-business-hour resolution target: level 2, with an ETR.
        clock.set(datetime(2026, 11, 23, 13, 0, 1, tzinfo=MEXICO))
        projected(2)
        # Four more business hours at level 2: level 3.
        clock.set(datetime(2026, 11, 23, 17, 0, 2, tzinfo=MEXICO))
        projected(3)

        history = ticket_api.get(f"/v1/tickets/{ticket}/events", headers=AGENT).json()
        escalations = [e for e in history if e["type"] == "ticket.escalated"]
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
