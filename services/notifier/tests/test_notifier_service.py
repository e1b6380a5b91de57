"""The notifier as it runs: events on real JetStream streams become mail on a real SMTP server.

The app is built by its factory with NATS, PostgreSQL and an SMTP sink on 127.0.0.1. Tests wait
for mail to arrive (a condition on the sink), never sleep.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient
from introspection import dev_introspection
from nats_server import NatsServer
from notifier_fixtures import ANA, AT, JOHN, ROOT, SERVICE, Story, opened
from receivers import HttpReceiver, SmtpSink

from contracts.events import SLA_STREAM, TICKETS_STREAM, CloudEvent, subject, to_wire
from contracts.events import sla as se
from contracts.events import ticket as te
from notifier.main import create_app
from notifier.settings import Settings
from servicekit.clock import ManualClock
from servicekit.messaging.streams import StreamSettings, ensure_stream

STAFF = {"Authorization": "Bearer dev-supervisor"}
SECRET = "whsec_" + base64.b64encode(b"a-signing-key-of-32-bytes-long!!").decode()


async def publish(url: str, *events: CloudEvent, msg_id_suffix: str = "") -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for stream in (TICKETS_STREAM, SLA_STREAM):
        await ensure_stream(js, stream, StreamSettings())
    for event in events:
        await js.publish(
            subject(event.event_name, tenant=event.tenant, ticket_id=event.subject),
            to_wire(event),
            headers={"Nats-Msg-Id": event.id + msg_id_suffix},
        )
    await nc.close()


class Running:
    def __init__(self, client: TestClient, sink: SmtpSink, hooks: HttpReceiver, url: str):
        self.client, self.sink, self.hooks, self.url = client, sink, hooks, url

    def publish(self, *events: CloudEvent, msg_id_suffix: str = "") -> None:
        asyncio.run(publish(self.url, *events, msg_id_suffix=msg_id_suffix))

    def deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        response = self.client.get("/v1/deliveries", params=filters, headers=STAFF)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture
def notifier(
    nats_server: NatsServer, postgres_env: dict[str, str], tmp_path: Path
) -> Iterator[Running]:
    sink = SmtpSink().start()
    hooks = HttpReceiver()
    destinations = tmp_path / "destinations.yaml"
    destinations.write_text(
        "integrations:\n"
        f"  acme-erp: {{url: '{hooks.url}/hooks', secret: '{SECRET}', tenants: [acme]}}\n"
    )
    settings = Settings(
        policies_dir=ROOT / "policies",
        destinations_file=destinations,
        nats_url=nats_server.url,
        smtp_port=sink.port,
        message_id_domain="desk.example",
        postgres_host=postgres_env["POSTGRES_HOST"],
        postgres_port=int(postgres_env["POSTGRES_PORT"]),
        postgres_user=postgres_env["POSTGRES_USER"],
        postgres_password=postgres_env["POSTGRES_PASSWORD"],
        postgres_dbname=postgres_env["POSTGRES_DBNAME"],
        dispatch_poll_seconds=0.05,
    )
    try:
        with TestClient(
            create_app(settings, clock=ManualClock(AT), principals=dev_introspection())
        ) as client:
            yield Running(client, sink, hooks, nats_server.url)
    finally:
        sink.stop()
        hooks.stop()


def test_a_new_ticket_is_acknowledged_by_mail_and_sent_to_the_tenants_integration(
    notifier: Running,
) -> None:
    story = Story("bitam")
    notifier.publish(story.event(opened("bitam", ANA)))
    [mail] = notifier.sink.wait_for(1)
    assert mail["To"] == "Ana Ruiz <ana@acme.example>"
    assert mail["Subject"] == "[BIT-000042] Recibimos su solicitud: La facturación no responde"
    [hook] = notifier.hooks.wait_for(1)
    assert hook.json()["subject"] == str(story.ticket_id)
    rows = notifier.deliveries(ticket_id=str(story.ticket_id))
    assert {(r["channel"], r["recipient"], r["status"]) for r in rows} == {
        ("email", "ana@acme.example", "sent"),
        ("webhook", "acme-erp", "sent"),
    }


def test_the_same_event_delivered_twice_by_nats_makes_one_message(notifier: Running) -> None:
    story = Story("bitam")
    first = story.event(opened("bitam", JOHN))
    notifier.publish(first)
    notifier.publish(first, msg_id_suffix=":again")  # past JetStream's duplicate window
    assigned = te.Assigned(actor=SERVICE, agent_id="agent-lucia", agent_name="Lucía Gómez")
    notifier.publish(story.event(assigned))
    mails = notifier.sink.wait_for(2)  # the second is the assignment, after the duplicate
    assert [m["Subject"] for m in mails] == [
        "[BIT-000042] We received your request: La facturación no responde",
        "[BIT-000042] Engineer Lucía Gómez is handling your case",
    ]
    assert len(notifier.deliveries(channel="email")) == 2


def test_one_recipients_messages_arrive_in_the_order_things_happened(notifier: Running) -> None:
    story = Story("bitam")
    assigned = te.Assigned(actor=SERVICE, agent_id="agent-lucia", agent_name="Lucía Gómez")
    asked = te.AwaitingCustomer(actor=SERVICE, request="Envíe el log del servidor.")
    replied = te.AgentReplied(actor=SERVICE, body="Revisamos el log.", public=True)
    # logged in one go, due at the same instant: sent one after the other, in order
    notifier.publish(*(story.event(e) for e in (opened("bitam", JOHN), assigned, asked, replied)))
    mails = notifier.sink.wait_for(4)
    assert [m["Subject"] for m in mails] == [
        "[BIT-000042] We received your request: La facturación no responde",
        "[BIT-000042] Engineer Lucía Gómez is handling your case",
        "[BIT-000042] We need information to go on",
        "[BIT-000042] A reply on your case",
    ]


def test_an_sla_event_that_overtakes_its_ticket_is_delivered_after_it(
    notifier: Running,
) -> None:
    story = Story("bitam")
    first = story.event(opened("bitam", ANA))
    waiting = te.AwaitingCustomer(actor=SERVICE, request="Envíe el log del servidor.")
    second = story.event(waiting)
    notice = se.AbandonmentWarning(actor=SERVICE, step="resolve", happens_at=AT + timedelta(days=7))
    notifier.publish(story.event(notice))  # on the SLA stream, ahead of the ticket's events
    notifier.publish(first, second)
    mails = notifier.sink.wait_for(3)
    subjects = sorted(m["Subject"] for m in mails)
    assert subjects[0].startswith("[BIT-000042] Necesitamos información")
    assert subjects[1].startswith("[BIT-000042] Recibimos su solicitud")
    assert subjects[2].startswith("[BIT-000042] Su caso se dará por resuelto el ")


def test_the_delivery_log_is_for_staff_and_answers_problems(notifier: Running) -> None:
    client = notifier.client
    assert client.get("/v1/deliveries").status_code == 401
    customer = {"Authorization": "Bearer dev-customer"}
    refused = client.get("/v1/deliveries", headers=customer)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    missing = client.get("/v1/deliveries/nope", headers={**STAFF, "Accept-Language": "en"})
    assert missing.status_code == 404 and missing.json()["detail"] == "There is no delivery 'nope'."
    bad = client.get("/v1/deliveries", params={"status": "lost"}, headers=STAFF)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
    ready = {"status": "ok", "database": "ok", "nats": "ok", "consumers": "attached"}
    assert client.get("/readyz").json() == ready


def test_a_malformed_query_parameter_is_a_422_problem_not_a_database_outage(
    notifier: Running,
) -> None:
    # PostgreSQL refuses a NUL byte in text: the request's fault, so 422 and no Retry-After.
    for params in ({"ticket_id": "a\x00b"}, {"case_number": "\x00"}, {"tenant": "acme\x00"}):
        response = notifier.client.get(
            "/v1/deliveries", params=params, headers={**STAFF, "Accept-Language": "en"}
        )
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid-value" and "retry-after" not in response.headers
    one = notifier.client.get("/v1/deliveries/bad%00id", headers=STAFF)
    assert one.status_code == 422 and one.json()["detail"].startswith("Un parámetro")


def test_a_dead_letter_is_sent_again_once_its_cause_is_fixed(notifier: Running) -> None:
    notifier.sink.refuse.add("ana@acme.example")
    story = Story("bitam", tenant="globex")  # no integration for this tenant
    notifier.publish(story.event(opened("bitam", ANA)))
    dead = wait_for_status(notifier, "dead")
    assert "recipient refused" in dead["last_error"]
    conflict = notifier.client.post(f"/v1/deliveries/{dead['id']}/retry", headers={})
    assert conflict.status_code == 401
    notifier.sink.refuse.clear()
    again = notifier.client.post(f"/v1/deliveries/{dead['id']}/retry", headers=STAFF)
    assert again.status_code == 200 and again.json()["status"] == "pending"
    [mail] = notifier.sink.wait_for(1)
    assert mail["X-Supportdesk-Delivery"] == dead["id"]
    twice = notifier.client.post(f"/v1/deliveries/{dead['id']}/retry", headers=STAFF)
    assert twice.status_code == 409 and twice.json()["code"] == "not-a-dead-letter"


def wait_for_status(notifier: Running, status: str) -> dict[str, Any]:
    """The first delivery with this status, waiting on the dispatcher's progress."""
    dispatcher = notifier.client.app.state.dispatcher  # type: ignore[attr-defined]

    async def settled() -> None:
        await dispatcher.wait_settled(dead=1 if status == "dead" else 0)

    notifier.client.portal.call(settled)  # type: ignore[union-attr]
    [row] = notifier.deliveries(status=status)
    return row


def test_events_too_old_to_matter_are_not_sent(notifier: Running) -> None:
    # A notifier deployed on a month of history must not mail customers about last month.
    old, new = Story("bitam"), Story("bitam")
    notifier.publish(old.event(opened("bitam", JOHN), at=AT - timedelta(days=2)))
    notifier.publish(new.event(opened("bitam", ANA)))
    [mail] = notifier.sink.wait_for(1)
    assert mail["To"] == "Ana Ruiz <ana@acme.example>"
    assert notifier.deliveries(ticket_id=str(old.ticket_id)) == []
