"""Tenant walls hold in every service, not only at ticket-api's door.

One world for the module: ticket-api (SQLite event store, outbox relay) → a real nats-server
→ sla-monitor and the notifier (real PostgreSQL), every service resolving its callers through
the real ticket-api's introspection (ADR 0014). Two tenants, alfa and beta, each with a
customer and two tickets — one answered late (a breach, a met clock), one fresh (at risk) —
an agent who serves only alfa and a supervisor who sees all. Beta's customer mailbox refuses
mail, so beta's acknowledgments become dead letters to retry.

Every endpoint of the three services is asked by every caller, and every cell is asserted:
another tenant's single resource is 404, lists, reports and the stream hold exactly the
tenants the caller sees on ticket-api. Waits are on consumers having handled events or the
dispatcher having settled deliveries, each bounded; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from fastapi.testclient import TestClient
from nats_server import NatsServer
from postgres import drop_database, fresh_database
from receivers import SmtpSink

from notifier.main import create_app as notifier_app
from notifier.settings import Settings as NotifierSettings
from servicekit import personal_data
from servicekit.clock import ManualClock
from servicekit.web import Introspection
from sla_monitor.main import create_app as sla_monitor_app
from sla_monitor.settings import Settings as SlaSettings
from ticket_api.main import create_app as ticket_api_app
from ticket_api.settings import DEV_PRINCIPALS
from ticket_api.settings import Settings as TicketSettings

POLICIES = Path(__file__).resolve().parents[2] / "policies"
MEXICO = ZoneInfo("America/Mexico_City")
MONDAY_0900 = datetime(2026, 11, 23, 9, tzinfo=MEXICO)  # bitam's office is open
ADMIN = {"Authorization": "Bearer dev-admin"}
TTL = 5.0
CALLERS = ("customer-alfa", "customer-beta", "agent-alfa", "supervisor")
SEES = {
    "customer-alfa": {"alfa"},
    "customer-beta": {"beta"},
    "agent-alfa": {"alfa"},
    "supervisor": {"alfa", "beta"},
}
"""What each caller sees on ticket-api, hence everywhere."""
STAFF = ("agent-alfa", "supervisor")


class Ticks:
    """The introspection cache's clock, moved by the tests (no waiting for a TTL to pass)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    ticket_api: TestClient
    sla: TestClient
    notifier: TestClient
    ticks: Ticks
    keys: dict[str, dict[str, str]] = field(default_factory=dict)
    """Caller → its ``Authorization`` header (directory API keys, as in production)."""
    tickets: dict[str, list[str]] = field(default_factory=dict)
    """Tenant → [answered late, fresh] ticket ids."""
    delivery: dict[str, str] = field(default_factory=dict)
    """Tenant → one of its deliveries (beta's: a dead letter)."""

    def headers(self, caller: str) -> dict[str, str]:
        return self.keys[caller]

    def issue_key(self, kind: str, holder_id: str, tenant: str | None = None) -> dict[str, str]:
        holder = {"kind": kind, "id": holder_id} | ({"tenant": tenant} if tenant else {})
        issued = self.ticket_api.post(
            "/v1/api-keys", headers=ADMIN, json={"holder": holder, "label": "tenant walls"}
        )
        assert issued.status_code == 201, issued.text
        body = issued.json()
        return {"Authorization": f"Bearer {body['key']}", "X-Key-Id": body["key_id"]}


def admin(world: World, path: str, body: dict[str, Any]) -> None:
    response = world.ticket_api.post(path, headers=ADMIN, json=body)
    assert response.status_code == 201, response.text


def open_ticket(world: World, customer: str, title: str) -> str:
    response = world.ticket_api.post(
        "/v1/tickets",
        headers=world.headers(customer),
        json={
            "policy": "bitam",
            "title": title,
            "description": "Nada responde desde las 9:00",
            "ticket_type": "soporte",
            "priority": "urgente",
            "product": "ebavel",
            "product_version": "6.6",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def reply(world: World, caller: str, ticket: str) -> None:
    response = world.ticket_api.post(
        f"/v1/tickets/{ticket}/replies",
        headers={**world.headers(caller), "If-Match": '"1"'},
        json={"body": "Lo revisamos ahora mismo."},
    )
    assert response.status_code == 200, response.text


def call(client: TestClient, awaitable: Any) -> Any:
    return client.portal.call(asyncio.wait_for, awaitable, 30)  # type: ignore[union-attr]


def build_directory(world: World) -> None:
    """Two tenants, a customer of each, an agent serving alfa only and a supervisor."""
    for slug, name in (("alfa", "Alfa S.A."), ("beta", "Beta Ltda.")):
        admin(world, "/v1/tenants", {"slug": slug, "name": name, "policies": []})
        admin(
            world,
            f"/v1/tenants/{slug}/contacts",
            {
                "id": f"cliente-{slug}",
                "name": f"Cliente {slug}",
                "email": f"cliente@{slug}.example",
            },
        )
        world.keys[f"customer-{slug}"] = world.issue_key("customer", f"cliente-{slug}", slug)
    admin(
        world,
        "/v1/staff",
        {"id": "agente-alfa", "role": "agent", "name": "Agente Alfa", "tenants": ["alfa"]},
    )
    admin(
        world,
        "/v1/staff",
        {"id": "supervisora", "role": "supervisor", "name": "Supervisora", "tenants": ["*"]},
    )
    world.keys["agent-alfa"] = world.issue_key("agent", "agente-alfa")
    world.keys["supervisor"] = world.issue_key("supervisor", "supervisora")


@pytest.fixture(scope="module")
def world(
    postgres_server: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("tenant-walls")
    nats_server = NatsServer(tmp / "nats-store", log_file=tmp / "nats-server.log")
    nats_server.start()
    database = fresh_database(postgres_server, f"walls_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    clock, ticks = ManualClock(MONDAY_0900), Ticks()
    tickets = ticket_api_app(
        TicketSettings(
            data_dir=tmp / "ticket-api",
            policies_dir=POLICIES,
            dev_keys=DEV_PRINCIPALS,  # dev-admin builds the directory; callers use real keys
            nats_url=nats_server.url,
        ),
        clock=clock,
        environ={},
    )

    def principals() -> Introspection:
        return Introspection(
            "http://ticket-api",
            ttl=TTL,
            transport=httpx2.ASGITransport(app=tickets),
            monotonic=ticks,
        )

    db = {
        "postgres_host": database["POSTGRES_HOST"],
        "postgres_port": int(database["POSTGRES_PORT"]),
        "postgres_user": database["POSTGRES_USER"],
        "postgres_password": database["POSTGRES_PASSWORD"],
        "postgres_dbname": database["POSTGRES_DBNAME"],
    }
    sink = SmtpSink().start()
    sink.refuse.add("cliente@beta.example")
    try:
        with ExitStack() as stack:
            # sealed personal data is opened with keys from this ticket-api, in process
            personal_data.IN_PROCESS["http://ticket-api"] = httpx2.ASGITransport(app=tickets)
            stack.callback(personal_data.IN_PROCESS.pop, "http://ticket-api", None)
            ticket_api = stack.enter_context(TestClient(tickets))
            sla = stack.enter_context(
                TestClient(
                    sla_monitor_app(
                        SlaSettings(
                            policies_dir=POLICIES,
                            nats_url=nats_server.url,
                            ticket_api_url="http://ticket-api",  # data keys (ADR 23)
                            timer_poll_seconds=0.05,
                            stream_poll_seconds=0.05,
                            stream_keepalive_seconds=0.2,
                            **db,
                        ),
                        clock=clock,
                        principals=principals(),
                    )
                )
            )
            notifier = stack.enter_context(
                TestClient(
                    notifier_app(
                        NotifierSettings(
                            policies_dir=POLICIES,
                            nats_url=nats_server.url,
                            ticket_api_url="http://ticket-api",  # data keys (ADR 23)
                            smtp_port=sink.port,
                            dispatch_poll_seconds=0.05,
                            **db,
                        ),
                        clock=clock,
                        principals=principals(),
                    )
                )
            )
            world = World(ticket_api, sla, notifier, ticks)
            build_directory(world)
            for tenant in ("alfa", "beta"):
                world.tickets[tenant] = [open_ticket(world, f"customer-{tenant}", "Caído")]
            clock.set(MONDAY_0900 + timedelta(hours=2))  # both first responses are late now
            reply(world, "agent-alfa", world.tickets["alfa"][0])
            reply(world, "supervisor", world.tickets["beta"][0])
            for tenant in ("alfa", "beta"):
                world.tickets[tenant].append(open_ticket(world, f"customer-{tenant}", "Lento"))
            events = 6  # four opened, two replies
            call(sla, sla.app.state.background.consumer.wait_handled(events))  # type: ignore[attr-defined]
            background = notifier.app.state.background  # type: ignore[attr-defined]
            call(notifier, background.consumers[0].wait_handled(events))
            call(notifier, background.dispatcher.wait_settled(dead=1))
            for tenant, status in (("alfa", None), ("beta", "dead")):
                params = {"tenant": tenant} | ({"status": status} if status else {})
                log = notifier.get(
                    "/v1/deliveries", params=params, headers=world.headers("supervisor")
                ).json()["items"]
                world.delivery[tenant] = log[0]["id"]
            yield world
    finally:
        sink.stop()
        nats_server.stop()
        drop_database(database)


def visible(caller: str, tenant: str) -> int:
    return 200 if tenant in SEES[caller] else 404


# --- ticket-api: the wall as it always was ------------------------------------------------------


@pytest.mark.parametrize("caller", CALLERS)
def test_ticket_api_shows_each_caller_only_the_tenants_it_sees(world: World, caller: str) -> None:
    headers = world.headers(caller)
    for tenant, ids in world.tickets.items():
        for ticket in ids:
            got = world.ticket_api.get(f"/v1/tickets/{ticket}", headers=headers)
            assert got.status_code == visible(caller, tenant), (caller, tenant, got.text)
    listed = world.ticket_api.get("/v1/tickets", headers=headers).json()["items"]
    assert {t["tenant"] for t in listed} == SEES[caller]
    me = world.ticket_api.get("/v1/principal", headers=headers).json()
    assert me["all_tenants"] == (caller == "supervisor")
    assert set(me["tenants"]) == (set() if caller == "supervisor" else SEES[caller])


# --- sla-monitor ------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", CALLERS)
def test_sla_monitor_answers_404_for_another_tenants_ticket_clocks(
    world: World, caller: str
) -> None:
    headers = world.headers(caller)
    for tenant, ids in world.tickets.items():
        for ticket in ids:
            named = world.sla.get(f"/v1/sla/tickets/{ticket}", headers=world.headers("supervisor"))
            for ref in (ticket, named.json()["case_number"]):  # a case number is no way around
                got = world.sla.get(f"/v1/sla/tickets/{ref}", headers=headers)
                assert got.status_code == visible(caller, tenant), (caller, ref, got.text)
                if got.status_code == 404:
                    assert got.json()["code"] == "ticket-not-found"


def tenants_of(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["tenant"] for item in response.json()["items"]}


@pytest.mark.parametrize("caller", CALLERS)
def test_sla_monitor_at_risk_and_breaches_hold_only_the_callers_tenants(
    world: World, caller: str
) -> None:
    headers = world.headers(caller)
    at_risk = world.sla.get("/v1/sla/at-risk", headers=headers)
    assert tenants_of(at_risk) == SEES[caller]
    assert {i["ticket_id"] for i in at_risk.json()["items"]} == {
        world.tickets[t][1] for t in SEES[caller]
    }
    breaches = world.sla.get("/v1/sla/breaches", headers=headers)
    assert tenants_of(breaches) == SEES[caller]
    assert {i["ticket_id"] for i in breaches.json()["items"]} == {
        world.tickets[t][0] for t in SEES[caller]
    }


@pytest.mark.parametrize("caller", STAFF)
def test_staff_naming_a_tenant_they_do_not_serve_get_nothing(world: World, caller: str) -> None:
    for path in ("/v1/sla/at-risk", "/v1/sla/breaches"):
        for tenant in ("alfa", "beta"):
            got = world.sla.get(path, headers=world.headers(caller), params={"tenant": tenant})
            assert tenants_of(got) == {tenant} & SEES[caller], (caller, path, tenant)


@pytest.mark.parametrize("caller", ["customer-alfa", "customer-beta"])
def test_customers_naming_another_tenant_are_refused(world: World, caller: str) -> None:
    other = "beta" if caller == "customer-alfa" else "alfa"
    for path in ("/v1/sla/at-risk", "/v1/sla/breaches", "/v1/sla/compliance", "/v1/sla/stream"):
        got = world.sla.get(path, headers=world.headers(caller), params={"tenant": other})
        assert got.status_code == 403, (caller, path, got.text)


@pytest.mark.parametrize("caller", CALLERS)
def test_sla_monitor_compliance_counts_only_the_callers_tenants(world: World, caller: str) -> None:
    got = world.sla.get("/v1/sla/compliance", headers=world.headers(caller))
    assert got.status_code == 200, got.text
    [group] = got.json()["items"]  # bitam, urgente: one late first response per tenant
    assert (group["policy"], group["priority"]) == ("bitam", "urgente")
    first_response = group["metrics"]["first_response"]
    assert (first_response["met"], first_response["met_on_time"]) == (len(SEES[caller]), 0)


@pytest.mark.parametrize("caller", CALLERS)
def test_sla_monitor_stream_sends_only_the_callers_tenants(world: World, caller: str) -> None:
    since = (MONDAY_0900 - timedelta(minutes=1)).isoformat()
    tenants: set[str] = set()
    tickets: set[str] = set()
    deadline = time.monotonic() + 20
    with world.sla.stream(
        "GET", "/v1/sla/stream", headers=world.headers(caller), params={"since": since}
    ) as response:
        assert response.status_code == 200, response.read()
        # Every clock written since then comes in the first batch; a keep-alive follows it.
        for line in response.iter_lines():
            assert time.monotonic() < deadline, "no keep-alive after the first batch"
            if line.startswith("data: "):
                clock = json.loads(line[6:])
                tenants.add(clock["tenant"])
                tickets.add(clock["ticket_id"])
            elif line == ": keepalive":
                break
    assert tenants == SEES[caller]
    assert tickets == {ticket for t in SEES[caller] for ticket in world.tickets[t]}


# --- notifier ---------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["customer-alfa", "customer-beta"])
def test_customers_read_no_delivery_log_at_all(world: World, caller: str) -> None:
    headers = world.headers(caller)
    assert world.notifier.get("/v1/deliveries", headers=headers).status_code == 403
    for delivery in world.delivery.values():
        assert world.notifier.get(f"/v1/deliveries/{delivery}", headers=headers).status_code == 403
        retried = world.notifier.post(f"/v1/deliveries/{delivery}/retry", headers=headers)
        assert retried.status_code == 403


@pytest.mark.parametrize("caller", STAFF)
def test_the_delivery_log_lists_only_the_tenants_staff_see(world: World, caller: str) -> None:
    headers = world.headers(caller)
    listed = world.notifier.get("/v1/deliveries", headers=headers, params={"limit": 1000})
    assert tenants_of(listed) == SEES[caller]
    assert {d["ticket_id"] for d in listed.json()["items"]} >= {
        ticket for t in SEES[caller] for ticket in world.tickets[t]
    }
    for tenant in ("alfa", "beta"):
        named = world.notifier.get("/v1/deliveries", headers=headers, params={"tenant": tenant})
        assert tenants_of(named) == {tenant} & SEES[caller]
        by_ticket = world.notifier.get(
            "/v1/deliveries", headers=headers, params={"ticket_id": world.tickets[tenant][0]}
        )
        assert tenants_of(by_ticket) == {tenant} & SEES[caller]


@pytest.mark.parametrize("caller", STAFF)
def test_another_tenants_delivery_is_404_to_read_and_to_retry(world: World, caller: str) -> None:
    headers = world.headers(caller)
    for tenant, delivery in world.delivery.items():
        got = world.notifier.get(f"/v1/deliveries/{delivery}", headers=headers)
        assert got.status_code == visible(caller, tenant), (caller, tenant, got.text)
    # alfa's delivery is visible to both and not dead: a conflict, which shows it exists.
    alfa = world.notifier.post(f"/v1/deliveries/{world.delivery['alfa']}/retry", headers=headers)
    assert alfa.status_code == 409 and alfa.json()["code"] == "not-a-dead-letter"
    beta = world.notifier.post(f"/v1/deliveries/{world.delivery['beta']}/retry", headers=headers)
    if caller == "agent-alfa":
        assert beta.status_code == 404 and beta.json()["code"] == "delivery-not-found"
        untouched = world.notifier.get(
            f"/v1/deliveries/{world.delivery['beta']}", headers=world.headers("supervisor")
        )
        assert untouched.json()["status"] == "dead"  # the wall stopped the update itself
    else:
        assert beta.status_code in (200, 409), beta.text  # 409: a retry is already under way


# --- credentials ------------------------------------------------------------------------------


def test_a_revoked_key_is_shut_out_of_every_service_within_the_cache_time(world: World) -> None:
    key = world.issue_key("agent", "agente-alfa")
    ticket = world.tickets["alfa"][0]
    reads = (
        (world.sla, f"/v1/sla/tickets/{ticket}"),
        (world.sla, "/v1/sla/at-risk"),
        (world.notifier, "/v1/deliveries"),
    )
    for client, path in reads:
        assert client.get(path, headers=key).status_code == 200, path
    revoked = world.ticket_api.delete(f"/v1/api-keys/{key['X-Key-Id']}", headers=ADMIN)
    assert revoked.status_code == 200, revoked.text
    assert world.ticket_api.get(f"/v1/tickets/{ticket}", headers=key).status_code == 401
    for client, path in reads:  # still cached: at most TTL seconds of grace
        assert client.get(path, headers=key).status_code == 200, path
    world.ticks.now += TTL
    for client, path in reads:
        refused = client.get(path, headers=key)
        assert refused.status_code == 401, path
        assert refused.json()["code"] == "not-authenticated"


def test_a_credential_ticket_api_does_not_know_is_401_everywhere(world: World) -> None:
    for headers in ({"Authorization": "Bearer sdk_nope_nope"}, {"X-API-Key": "dev-nobody"}, {}):
        for client, path in (
            (world.sla, "/v1/sla/compliance"),
            (world.sla, "/v1/sla/stream"),
            (world.notifier, "/v1/deliveries"),
        ):
            refused = client.get(path, headers=headers)
            assert refused.status_code == 401, (path, headers)
            assert refused.headers["www-authenticate"] == "Bearer"


def test_reads_answer_503_while_ticket_api_is_unreachable(postgres_env: dict[str, str]) -> None:
    nowhere = Introspection("http://127.0.0.1:9", timeout=2.0)  # the discard port: refused
    db = {
        "postgres_host": postgres_env["POSTGRES_HOST"],
        "postgres_port": int(postgres_env["POSTGRES_PORT"]),
        "postgres_user": postgres_env["POSTGRES_USER"],
        "postgres_password": postgres_env["POSTGRES_PASSWORD"],
        "postgres_dbname": postgres_env["POSTGRES_DBNAME"],
    }
    sla = sla_monitor_app(SlaSettings(policies_dir=POLICIES, **db), principals=nowhere)
    notifier = notifier_app(
        NotifierSettings(policies_dir=POLICIES, **db),
        principals=Introspection("http://127.0.0.1:9", timeout=2.0),
    )
    supervisor = {"Authorization": "Bearer dev-supervisor", "Accept-Language": "en"}
    with TestClient(sla) as sla_client, TestClient(notifier) as notifier_client:
        for client, path in (
            (sla_client, f"/v1/sla/tickets/{uuid.uuid4()}"),
            (sla_client, "/v1/sla/at-risk"),
            (sla_client, "/v1/sla/breaches"),
            (sla_client, "/v1/sla/compliance"),
            (sla_client, "/v1/sla/stream"),
            (notifier_client, "/v1/deliveries"),
            (notifier_client, "/v1/deliveries/abc"),
        ):
            down = client.get(path, headers=supervisor)
            assert down.status_code == 503, (path, down.text)
            assert down.json()["code"] == "directory-unavailable"
            assert down.headers["retry-after"] == "5"
        retry = notifier_client.post("/v1/deliveries/abc/retry", headers=supervisor)
        assert retry.status_code == 503
