"""Webhook subscriptions as integrators use them: over the API, to a real local receiver.

The notifier runs with real NATS and PostgreSQL; receivers are HTTP servers on 127.0.0.1
(so these apps allow http and private addresses, as ``make run`` does — the refusals have a
production-configured app of their own). The clock is a manual one started at the real time:
the ``standardwebhooks`` library checks a signature's timestamp against the real clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from introspection import DEV_DIRECTORY, dev_introspection
from nats_server import NatsServer
from notifier_fixtures import ANA, ROOT, SERVICE, Story, opened
from receivers import HttpReceiver, SmtpSink
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from test_notifier_service import publish

from contracts.events import CloudEvent
from contracts.events import ticket as te
from notifier.main import create_app
from notifier.settings import Settings
from notifier.subscriptions.addresses import DestinationRules
from servicekit.clock import ManualClock
from servicekit.web import PrincipalInfo

DIRECTORY = DEV_DIRECTORY | {
    "admin-all": PrincipalInfo(kind="admin", id="admin-ops", all_tenants=True),
    "admin-acme": PrincipalInfo(kind="admin", id="admin-acme", tenants=["acme"]),
    "admin-globex": PrincipalInfo(kind="admin", id="admin-globex", tenants=["globex"]),
}
ACME = {"Authorization": "Bearer admin-acme", "Accept-Language": "en"}
GLOBEX = {"Authorization": "Bearer admin-globex", "Accept-Language": "en"}


def settings_for(postgres_env: dict[str, str], **changes: Any) -> Settings:
    return Settings(
        policies_dir=ROOT / "policies",
        postgres_host=postgres_env["POSTGRES_HOST"],
        postgres_port=int(postgres_env["POSTGRES_PORT"]),
        postgres_user=postgres_env["POSTGRES_USER"],
        postgres_password=postgres_env["POSTGRES_PASSWORD"],
        postgres_dbname=postgres_env["POSTGRES_DBNAME"],
        dispatch_poll_seconds=0.05,
        **changes,
    )


class Desk:
    def __init__(self, client: TestClient, clock: ManualClock, receiver: HttpReceiver,
                 sink: SmtpSink, nats_url: str) -> None:  # fmt: skip
        self.client, self.clock, self.receiver, self.sink = client, clock, receiver, sink
        self.nats_url = nats_url

    def publish(self, *events: CloudEvent) -> None:
        asyncio.run(publish(self.nats_url, *events))

    def subscribe(self, headers: dict[str, str] = ACME, **body: Any) -> dict[str, Any]:
        body = {"url": f"{self.receiver.url}/hooks", "events": ["ticket.opened"]} | body
        body.setdefault("tenant", "acme")
        created = self.client.post("/v1/webhooks", json=body, headers=headers)
        assert created.status_code == 201, created.text
        answer: dict[str, Any] = created.json()
        return answer

    def story(self, tenant: str = "acme") -> tuple[Story, CloudEvent]:
        story = Story("bitam", tenant=tenant)
        return story, story.event(opened("bitam", ANA), at=self.clock.now())


@pytest.fixture
def desk(nats_server: NatsServer, postgres_env: dict[str, str], tmp_path: Path) -> Iterator[Desk]:
    receiver, sink = HttpReceiver(), SmtpSink().start()
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    settings = settings_for(
        postgres_env,
        nats_url=nats_server.url,
        smtp_port=sink.port,
        webhook_allow_http=True,
        webhook_allow_private=True,
        webhook_pause_after_failures=3,
        webhook_master_key="kAQXkwGLcMGQXPDGTYv0pY7_fyrOO8uuj5AFfm7rE7M=",
    )
    app = create_app(settings, clock=clock, principals=dev_introspection(DIRECTORY))
    try:
        with TestClient(app) as client:
            yield Desk(client, clock, receiver, sink, nats_server.url)
    finally:
        receiver.stop()
        sink.stop()


def test_the_secret_is_shown_on_creation_only_and_sealed_at_rest(desk: Desk) -> None:
    created = desk.subscribe(description="ERP", owner_email="it@acme.example")
    assert created["secret"].startswith("whsec_") and created["status"] == "active"
    listed = desk.client.get("/v1/webhooks", headers=ACME).json()["items"]
    read = desk.client.get(f"/v1/webhooks/{created['id']}", headers=ACME).json()
    assert [item["id"] for item in listed] == [created["id"]]
    assert "secret" not in listed[0] and "secret" not in read
    assert read == {k: v for k, v in created.items() if k != "secret"}

    async def stored() -> str:
        async with desk.client.app.state.webhooks.store.db().acquire() as conn:  # type: ignore[attr-defined]
            value: str = await conn.fetchval(
                "SELECT secret FROM webhook_subscriptions WHERE id = $1", created["id"]
            )
            return value

    sealed = desk.client.portal.call(stored)  # type: ignore[union-attr]
    assert sealed.startswith("fernet:") and created["secret"] not in sealed


def test_a_tenants_ticket_reaches_its_subscription_signed_and_verifiable(desk: Desk) -> None:
    created = desk.subscribe(events=["ticket.opened", "sla.breached"])
    _, other = desk.story("globex")  # another tenant's ticket: not for this subscription
    story, mine = desk.story("acme")
    desk.publish(other, mine)
    [request] = desk.receiver.wait_for(1)
    payload = Webhook(created["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "supportdesk.ticket.opened"
    assert payload["subject"] == str(story.ticket_id) and payload["tenant"] == "acme"
    history = desk.client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=ACME)
    [row] = history.json()["items"]
    assert row["ticket_id"] == str(story.ticket_id) and row["id"] == request.headers["webhook-id"]


def test_a_test_ping_is_signed_and_returns_the_receivers_answer(desk: Desk) -> None:
    created = desk.subscribe()
    desk.receiver.answers.append((202, {}))
    answer = desk.client.post(f"/v1/webhooks/{created['id']}/test", headers=ACME).json()
    assert answer["delivered"] is True and answer["status"] == 202 and answer["body"] == "{}"
    [request] = desk.receiver.wait_for(1)
    ping = Webhook(created["secret"]).verify(request.body, request.headers)
    assert ping["type"] == "supportdesk.webhook.ping" and ping["id"] == answer["webhook_id"]


def test_during_a_rotation_both_secrets_verify_and_afterwards_only_the_new(desk: Desk) -> None:
    created = desk.subscribe()
    old = created["secret"]
    rotated = desk.client.post(f"/v1/webhooks/{created['id']}/rotate", headers=ACME).json()
    new = rotated["secret"]
    assert new != old and rotated["rotation_ends_at"] is not None

    def ping() -> Any:
        assert desk.client.post(f"/v1/webhooks/{created['id']}/test", headers=ACME).is_success
        return desk.receiver.requests[-1]

    during = ping()
    assert len(during.headers["webhook-signature"].split()) == 2
    Webhook(old).verify(during.body, during.headers)
    Webhook(new).verify(during.body, during.headers)

    desk.clock.advance(timedelta(hours=24, seconds=1))
    after = ping()
    # the library checks timestamps against the real clock, a day behind ours now: compare
    # the signatures it computes for each secret with the ones we sent
    sent = after.headers["webhook-signature"].split()
    stamp = datetime.fromtimestamp(int(after.headers["webhook-timestamp"]), UTC)
    body, message_id = after.body.decode(), after.headers["webhook-id"]
    assert sent == [Webhook(new).sign(message_id, stamp, body)]
    assert Webhook(old).sign(message_id, stamp, body) not in sent
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(during.body, {**during.headers, "webhook-signature": sent[0]})
    read = desk.client.get(f"/v1/webhooks/{created['id']}", headers=ACME).json()
    assert read["rotation_ends_at"] is None


def test_after_n_failures_in_a_row_the_subscription_pauses_and_its_owner_is_told(
    desk: Desk,
) -> None:
    created = desk.subscribe(events=["ticket.*"], owner_email="it@acme.example")
    desk.receiver.answers.extend([(500, {})] * 10)
    story, first = desk.story()
    assigned = te.Assigned(actor=SERVICE, agent_id="agent-lucia", agent_name="Lucía Gómez")
    waiting = te.AwaitingCustomer(actor=SERVICE, request="Envíe el log.")
    at = desk.clock.now()
    desk.publish(first, story.event(assigned, at=at), story.event(waiting, at=at))
    notice = desk.sink.wait_until(lambda m: m["To"] == "it@acme.example")
    assert notice["Subject"] == f"Webhook {created['id']} en pausa tras 3 envíos fallidos"
    assert "answered 500" in notice.get_content()
    read = desk.client.get(f"/v1/webhooks/{created['id']}", headers=ACME).json()
    assert read["status"] == "paused" and read["consecutive_failures"] == 3
    assert "3 consecutive failed deliveries" in read["paused_reason"]
    assert len(desk.receiver.requests) == 3
    resumed = desk.client.post(f"/v1/webhooks/{created['id']}/resume", headers=ACME).json()
    assert resumed["status"] == "active" and resumed["consecutive_failures"] == 0


def test_a_subscription_is_seen_and_changed_only_within_its_tenant(desk: Desk) -> None:
    created = desk.subscribe()
    path = f"/v1/webhooks/{created['id']}"
    for method, suffix in (("GET", ""), ("POST", "/rotate"), ("POST", "/test"),
                           ("POST", "/pause"), ("GET", "/deliveries"), ("DELETE", "")):  # fmt: skip
        refused = desk.client.request(method, path + suffix, headers=GLOBEX)
        assert refused.status_code == 404, (method, suffix)
        assert refused.json()["code"] == "webhook-not-found"
    assert desk.client.get("/v1/webhooks", headers=GLOBEX).json()["items"] == []
    everyone = {"Authorization": "Bearer admin-all"}
    assert desk.client.get(path, headers=everyone).status_code == 200
    for_globex = desk.client.post(
        "/v1/webhooks", json={"url": desk.receiver.url, "events": ["*"], "tenant": "globex"},
        headers=ACME,
    )  # fmt: skip
    assert for_globex.status_code == 403
    no_tenant = {"url": desk.receiver.url, "events": ["*"], "tenant": None}
    refused = desk.client.post("/v1/webhooks", json=no_tenant, headers=ACME)
    assert refused.status_code == 422 and refused.json()["code"] == "tenant-required"
    assert desk.client.post("/v1/webhooks", json=no_tenant, headers=everyone).status_code == 201
    supervisor = {"Authorization": "Bearer dev-supervisor"}
    assert desk.client.get("/v1/webhooks", headers=supervisor).status_code == 403
    assert desk.client.delete(path, headers=ACME).status_code == 204
    assert desk.client.get(path, headers=ACME).status_code == 404


@pytest.fixture
def production(postgres_env: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(settings_for(postgres_env), principals=dev_introspection(DIRECTORY))
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://10.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://localhost:8443/hooks",
        "http://example.com/hooks",
        "https://user:pw@example.com/hooks",
    ],
)
def test_production_refuses_http_and_addresses_inside_our_network(
    production: TestClient, url: str
) -> None:
    body = {"url": url, "events": ["ticket.opened"], "tenant": "acme"}
    refused = production.post("/v1/webhooks", json=body, headers=ACME)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "unsafe-url"
    assert refused.json()["errors"][0]["field"] == "url"


def test_the_destination_is_checked_again_before_each_send(desk: Desk) -> None:
    # Allowed when created; then the host "resolves inwards" (here: the rules tighten).
    created = desk.subscribe()
    webhooks = desk.client.app.state.webhooks  # type: ignore[attr-defined]
    webhooks.rules = webhooks.sender.rules = DestinationRules()
    ping = desk.client.post(f"/v1/webhooks/{created['id']}/test", headers=ACME)
    assert ping.status_code == 422 and ping.json()["code"] == "unsafe-url"
    _, event = desk.story()
    desk.publish(event)
    dispatcher = desk.client.app.state.dispatcher  # type: ignore[attr-defined]

    async def dead() -> None:
        await dispatcher.wait_settled(dead=1)

    desk.client.portal.call(dead)  # type: ignore[union-attr]
    rows = desk.client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=ACME).json()
    assert rows["items"][0]["status"] == "dead"
    assert rows["items"][0]["last_error"].startswith("destination refused: the URL must use https")
    assert desk.receiver.requests == []
