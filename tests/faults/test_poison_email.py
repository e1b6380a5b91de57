"""A poisoned email no longer stops the world.

Once, an email from a registered contact whose subject held a NUL was accepted and stored; the
relay refused it against the event contract and retried forever, so no later event of any
tenant reached NATS, and ``GET /v1/tickets`` answered 500 for everyone (the read model cannot
store NUL) — even after a restart. Here the same mail goes to a real ticket-api (PostgreSQL
event store, relay to a real nats-server, its SMTP listener), and then another tenant's ticket
must still reach NATS, the list must still answer, and nothing unpublishable may be stored.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import nats
import pytest
from fastapi.testclient import TestClient
from nats_server import NatsServer
from receivers import free_port

from contracts.events import TICKETS_STREAM, CloudEvent
from ticket_api.domain.ticket import Ticket
from ticket_api.main import create_app
from ticket_api.settings import Settings
from ticket_api.wire import wire_event

ROOT = Path(__file__).resolve().parents[2]
SERVICE = {"Authorization": "Bearer dev-service"}
AGENT = {"Authorization": "Bearer dev-agent"}
CUSTOMER = {"Authorization": "Bearer dev-customer"}
POISON = (
    b"From: Ana Ruiz <ana@acme.example>\r\nTo: soporte@btw.com.co\r\n"
    b"Message-ID: <poison-1@acme.example>\r\n"
    b"Subject: Error 500\x00 al timbrar\r\n\r\nDesde las 9:00\x00 la DIAN responde 500.\r\n"
)


@pytest.fixture
def desk_app(
    postgres_env: dict[str, str], nats_server: NatsServer, tmp_path: Path
) -> Iterator[tuple[TestClient, int]]:
    smtp_port = free_port()
    settings = Settings(
        store="postgres",
        data_dir=tmp_path,
        policies_dir=ROOT / "policies",
        dev_mode=True,
        nats_url=nats_server.url,
        smtp_intake_port=smtp_port,
    )
    app = create_app(settings, environ=dict(postgres_env))
    with TestClient(app) as client:
        yield client, smtp_port


def wait_published(client: TestClient, seconds: float = 30) -> None:
    """Until the relay has acknowledged everything committed so far (bounded)."""
    relay = client.app.state.relay  # type: ignore[attr-defined]
    deadline = time.monotonic() + seconds
    while relay.lag() != 0:
        assert time.monotonic() < deadline, f"relay still {relay.lag()} behind: {relay.status()}"
        time.sleep(0.05)


def stream_ids(url: str) -> list[str]:
    async def read() -> list[str]:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            total = (await js.stream_info(TICKETS_STREAM)).state.messages
            ids = []
            for sequence in range(1, total + 1):
                message = await js.get_msg(TICKETS_STREAM, sequence)
                assert message.data is not None
                ids.append(CloudEvent.model_validate_json(message.data).id)
            return ids
        finally:
            await nc.close()

    return asyncio.run(read())


def stored_ticket_events_are_publishable(client: TestClient) -> int:
    desk = client.app.state.desk  # type: ignore[attr-defined]
    count = 0
    for notification in desk.recorder.select_notifications(1, 10_000):
        event = desk.mapper.to_domain_event(notification)
        if isinstance(event, Ticket.Event):
            ticket = desk.ticket(UUID(str(event.originator_id)))
            wire_event(event, tenant=ticket.tenant, policy=ticket.policy)
            count += 1
    return count


def open_after(client: TestClient) -> dict[str, Any]:
    response = client.post(
        "/v1/tickets",
        json={
            "policy": "bitam",
            "title": "El portal no responde",
            "description": "Error 500 desde las 9:00.",
            "ticket_type": "soporte",
            "priority": "alta",
            "product": "ebavel",
            "product_version": "6.6",
        },
        headers=CUSTOMER,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_mail_with_nul_characters_by_rest_never_stops_the_events_of_anyone_else(
    desk_app: tuple[TestClient, int], nats_server: NatsServer
) -> None:
    client, _ = desk_app
    answer = client.post(
        "/v1/intake/email", content=POISON, headers={**SERVICE, "Content-Type": "message/rfc822"}
    )
    assert answer.status_code < 500, answer.text
    after = open_after(client)
    wait_published(client)
    assert f"{after['id']}:1" in stream_ids(nats_server.url)
    assert client.app.state.relay.parked_count() == 0  # type: ignore[attr-defined]
    listing = client.get("/v1/tickets", headers=AGENT)
    assert listing.status_code == 200, listing.text
    assert stored_ticket_events_are_publishable(client) >= 1
    ready = client.get("/readyz").json()
    assert ready["status"] == "ok" and ready["outbox_relay"] == "publishing", ready


def test_a_mail_with_nul_characters_by_smtp_never_stops_the_events_of_anyone_else(
    desk_app: tuple[TestClient, int], nats_server: NatsServer
) -> None:
    client, smtp_port = desk_app
    # Taken or refused with a permanent reply: either way never a 451 that makes MTAs retry.
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("ana@acme.example")
        smtp.rcpt("soporte@btw.com.co")
        code, reply = smtp.data(POISON)
    assert code == 250 or 500 <= code < 600, reply
    after = open_after(client)
    wait_published(client)
    assert f"{after['id']}:1" in stream_ids(nats_server.url)
    assert client.get("/v1/tickets", headers=AGENT).status_code == 200
    assert stored_ticket_events_are_publishable(client) >= 1
