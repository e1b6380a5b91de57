"""The whole system in one test process: ticket-api, sla-monitor and notifier on real servers.

ticket-api (SQLite store, outbox relay) → NATS JetStream → sla-monitor (projection, timers,
PostgreSQL) → ticket-api's REST API as the service principal; and notifier (PostgreSQL
delivery log) → a real SMTP server on 127.0.0.1. One manual clock drives every service; each
wait is on a consumer having handled a number of events, or on mail having arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
from fastapi.testclient import TestClient
from nats_server import NatsServer
from receivers import SmtpSink

from notifier.main import create_app as notifier_app
from notifier.settings import Settings as NotifierSettings
from servicekit import personal_data
from servicekit.clock import ManualClock
from servicekit.web import Introspection
from sla_monitor.commands import TicketApiCommands
from sla_monitor.main import create_app as sla_monitor_app
from sla_monitor.settings import Settings as SlaSettings
from ticket_api.main import create_app as ticket_api_app
from ticket_api.settings import DEV_PRINCIPALS
from ticket_api.settings import Settings as TicketSettings

POLICIES = Path(__file__).resolve().parents[2] / "policies"
MEXICO = ZoneInfo("America/Mexico_City")
AGENT = {"Authorization": "Bearer dev-agent"}


@dataclass
class System:
    clock: ManualClock
    ticket_api: TestClient
    sla_monitor: TestClient
    notifier: TestClient | None = None
    mail: SmtpSink | None = None
    replicas: list[TestClient] = field(default_factory=list)
    """More sla-monitor and notifier instances on the same streams and database."""

    def projected(self, events: int) -> None:
        """Wait until sla-monitor has handled ``events`` ticket events."""
        consumer = self.sla_monitor.app.state.background.consumer  # type: ignore[attr-defined]
        self.sla_monitor.portal.call(  # type: ignore[union-attr]
            asyncio.wait_for, consumer.wait_handled(events), 30
        )

    def history(self, ticket: str) -> list[dict[str, Any]]:
        return self.ticket_api.get(f"/v1/tickets/{ticket}/events", headers=AGENT).json()  # type: ignore[no-any-return]


def database_settings(env: dict[str, str]) -> dict[str, Any]:
    return {
        "postgres_host": env["POSTGRES_HOST"],
        "postgres_port": int(env["POSTGRES_PORT"]),
        "postgres_user": env["POSTGRES_USER"],
        "postgres_password": env["POSTGRES_PASSWORD"],
        "postgres_dbname": env["POSTGRES_DBNAME"],
    }


@contextmanager
def running_system(
    nats_server: NatsServer,
    postgres_env: dict[str, str],
    tmp_path: Path,
    *,
    notifier: bool = False,
    replicas: int = 1,
    start: datetime = datetime(2026, 11, 23, 9, tzinfo=MEXICO),  # a Monday
) -> Iterator[System]:
    clock = ManualClock(start)
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

    def principals() -> Introspection:
        """Readers of sla-monitor and notifier are resolved by this ticket-api (ADR 0014)."""
        return Introspection("http://t", transport=httpx2.ASGITransport(app=tickets))

    def sla() -> Any:
        return sla_monitor_app(
            SlaSettings(
                policies_dir=POLICIES,
                nats_url=nats_server.url,
                ticket_api_url="http://t",  # data keys (ADR 23), through IN_PROCESS
                timer_poll_seconds=0.05,
                **database_settings(postgres_env),
            ),
            clock=clock,
            commands=commands,
            principals=principals(),
        )

    def notifications(mail: SmtpSink) -> Any:
        return notifier_app(
            NotifierSettings(
                policies_dir=POLICIES,
                nats_url=nats_server.url,
                ticket_api_url="http://t",  # data keys (ADR 23), through IN_PROCESS
                smtp_port=mail.port,
                dispatch_poll_seconds=0.05,
                **database_settings(postgres_env),
            ),
            clock=clock,
            principals=principals(),
        )

    with ExitStack() as stack:
        personal_data.IN_PROCESS["http://t"] = httpx2.ASGITransport(app=tickets)
        stack.callback(personal_data.IN_PROCESS.pop, "http://t", None)
        system = System(
            clock,
            stack.enter_context(TestClient(tickets)),
            stack.enter_context(TestClient(sla())),
        )
        for _ in range(replicas - 1):
            system.replicas.append(stack.enter_context(TestClient(sla())))
        if notifier:
            system.mail = SmtpSink().start()
            stack.callback(system.mail.stop)
            system.notifier = stack.enter_context(TestClient(notifications(system.mail)))
            for _ in range(replicas - 1):
                system.replicas.append(stack.enter_context(TestClient(notifications(system.mail))))
        yield system
