"""The dashboards' read API against a real PostgreSQL, on a manual clock.

Tickets are seeded the way the projection stores them (``sla_ticket_events`` + ``refresh``),
from the BITAM seed policy: office hours Monday to Friday 8:30–18:00 Mexico City, urgent tickets
promise a first response and a resolution within one business hour, clocks start on
registration.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
import nats
import pytest
from fastapi.testclient import TestClient
from introspection import dev_introspection
from nats_server import NatsServer

from contracts.events import (
    TICKETS_STREAM,
    Actor,
    ActorKind,
    EventPayload,
    envelope,
    subject,
    to_wire,
)
from contracts.events import ticket as te
from contracts.policy import load_policies
from servicekit.clock import ManualClock
from servicekit.messaging.streams import StreamSettings, ensure_stream
from sla_monitor.api import parse_within, sse
from sla_monitor.main import create_app
from sla_monitor.projection import SlaProjection
from sla_monitor.rebuild import rebuild
from sla_monitor.settings import Settings

T = TypeVar("T")
POLICIES_DIR = Path(__file__).resolve().parents[3] / "policies"
POLICIES = load_policies(POLICIES_DIR)
MEXICO = ZoneInfo("America/Mexico_City")
AGENT = {"Authorization": "Bearer dev-agent"}
CUSTOMER = {"Authorization": "Bearer dev-customer"}  # tenant acme
CUSTOMER_ACTOR = Actor(kind=ActorKind.CUSTOMER, id="contact-ana")
AGENT_ACTOR = Actor(kind=ActorKind.AGENT, id="agent-lucia")

FRIDAY_1730 = datetime(2026, 11, 27, 17, 30, tzinfo=MEXICO)
MONDAY_0900 = datetime(2026, 11, 30, 9, 0, tzinfo=MEXICO)
EARLIER_MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=MEXICO)


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def opened(
    priority: str = "urgente",
    case_number: str = "BIT-000001",
    title: str = "El portal no responde",
) -> te.Opened:
    return te.Opened(
        actor=CUSTOMER_ACTOR,
        case_number=case_number,
        contact=te.Contact(id="contact-ana", name="Ana", email="ana@acme.example"),
        title=title,
        description="Error 500",
        ticket_type="soporte",
        priority=priority,
    )


def replied() -> te.AgentReplied:
    return te.AgentReplied(actor=AGENT_ACTOR, body="Revisando", public=True)


def resolved() -> te.Resolved:
    return te.Resolved(
        actor=AGENT_ACTOR, resolution=te.ResolutionKind.SOLUTION, summary="Servicio reiniciado"
    )


def assigned(agent_id: str = "agent-lucia", agent_name: str = "Lucía") -> te.Assigned:
    return te.Assigned(actor=AGENT_ACTOR, agent_id=agent_id, agent_name=agent_name)


def reclassified(previous: str, priority: str) -> te.Classified:
    return te.Classified(
        actor=AGENT_ACTOR,
        ticket_type="soporte",
        priority=priority,
        previous_ticket_type="soporte",
        previous_priority=previous,
        reason="Hay una solución alterna",
    )


Story = list[tuple[EventPayload, datetime]]


async def seed(
    env: dict[str, str], tenant: str, ticket: UUID, story: Story, *, first_version: int = 1
) -> None:
    """Store a ticket's events (from ``first_version`` on) and project them in one
    transaction, as the consumer does: a reader never sees a ticket's clocks without its
    names."""
    conn = await asyncpg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        database=env["POSTGRES_DBNAME"],
    )
    try:
        await SlaProjection.setup(conn)
        async with conn.transaction():
            for version, (payload, at) in enumerate(story, start=first_version):
                await conn.execute(
                    "INSERT INTO sla_ticket_events VALUES ($1, $2, $3, $4, $5, 'bitam', $6)",
                    ticket,
                    version,
                    payload.event_name,
                    json.dumps(payload.model_dump(mode="json")),
                    at,
                    tenant,
                )
            await SlaProjection(POLICIES).refresh(conn, ticket)
    finally:
        await conn.close()


def settings_for(env: dict[str, str], **overrides: Any) -> Settings:
    return Settings(
        policies_dir=POLICIES_DIR,
        postgres_host=env["POSTGRES_HOST"],
        postgres_port=int(env["POSTGRES_PORT"]),
        postgres_user=env["POSTGRES_USER"],
        postgres_password=env["POSTGRES_PASSWORD"],
        postgres_dbname=env["POSTGRES_DBNAME"],
        stream_poll_seconds=0.05,
        stream_keepalive_seconds=0.2,
        **overrides,
    )


@dataclass
class Desk:
    client: TestClient
    clock: ManualClock
    env: dict[str, str]
    friday: UUID  # BIT-000003, acme, urgent, registered Friday 17:30: nothing happened since
    late: UUID  # BIT-000001, globex, urgent, Monday 23rd 10:00, answered 11:30 (late)
    on_time: UUID  # BIT-000002, globex, urgent, Monday 23rd 10:00, answered 10:20, resolved 10:40

    def get(self, path: str, headers: dict[str, str] | None = None, /, **params: Any) -> Any:
        response = self.client.get(path, headers=headers or AGENT, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def clocks(self, ticket: UUID) -> dict[str, Any]:
        body = self.get(f"/v1/sla/tickets/{ticket}")
        return {clock["metric"]: clock for clock in body["clocks"]}


@pytest.fixture
def desk(postgres_env: dict[str, str]) -> Iterator[Desk]:
    friday, late, on_time = uuid4(), uuid4(), uuid4()
    run(seed(postgres_env, "acme", friday, [(opened(case_number="BIT-000003"), FRIDAY_1730)]))
    run(
        seed(
            postgres_env,
            "globex",
            late,
            [
                (opened(case_number="BIT-000001"), EARLIER_MONDAY),
                (replied(), EARLIER_MONDAY + timedelta(minutes=90)),
            ],
        )
    )
    run(
        seed(
            postgres_env,
            "globex",
            on_time,
            [
                (opened(case_number="BIT-000002"), EARLIER_MONDAY),
                (replied(), EARLIER_MONDAY + timedelta(minutes=20)),
                (resolved(), EARLIER_MONDAY + timedelta(minutes=40)),
            ],
        )
    )
    clock = ManualClock(FRIDAY_1730 + timedelta(minutes=15))
    with TestClient(
        create_app(settings_for(postgres_env), clock=clock, principals=dev_introspection())
    ) as client:
        yield Desk(client, clock, postgres_env, friday, late, on_time)


# --- one ticket's clocks ----------------------------------------------------------------------


def test_an_urgent_ticket_registered_friday_1730_is_due_monday_0900_mexico_city(
    desk: Desk,
) -> None:
    body = desk.get(f"/v1/sla/tickets/{desk.friday}")
    assert (body["policy"], body["tenant"], body["priority"]) == ("bitam", "acme", "urgente")
    assert body["time_zone"] == "America/Mexico_City"
    first = {c["metric"]: c for c in body["clocks"]}["first_response"]
    assert first["status"] == "running" and first["running"] is True
    assert first["deadline"] == {
        "utc": "2026-11-30T15:00:00Z",
        "local": "2026-11-30T09:00:00-06:00",
    }
    assert first["started_at"]["local"] == "2026-11-27T17:30:00-06:00"
    assert (first["target_seconds"], first["used_seconds"], first["remaining_seconds"]) == (
        3600,
        900,
        2700,
    )


def test_used_and_remaining_are_live_and_count_only_office_hours(desk: Desk) -> None:
    desk.clock.set(datetime(2026, 11, 28, 12, tzinfo=MEXICO))  # Saturday: the office is closed
    first = desk.clocks(desk.friday)["first_response"]
    assert (first["used_seconds"], first["remaining_seconds"]) == (1800, 1800)

    desk.clock.set(datetime(2026, 11, 30, 8, 45, tzinfo=MEXICO))  # Monday, 15 min after opening
    first = desk.clocks(desk.friday)["first_response"]
    assert (first["status"], first["used_seconds"], first["remaining_seconds"]) == (
        "running",
        2700,
        900,
    )

    desk.clock.set(MONDAY_0900 + timedelta(minutes=30))
    first = desk.clocks(desk.friday)["first_response"]
    assert (first["status"], first["remaining_seconds"], first["late"]) == (
        "breached",
        -1800,
        True,
    )


def test_met_clocks_show_when_they_were_met_and_whether_late(desk: Desk) -> None:
    desk.clock.set(EARLIER_MONDAY + timedelta(hours=3))
    late = desk.clocks(desk.late)
    assert late["first_response"]["status"] == "met" and late["first_response"]["late"] is True
    assert late["first_response"]["met_at"]["local"] == "2026-11-23T11:30:00-06:00"
    assert late["resolution"]["status"] == "breached"
    assert late["decision"]["status"] == "not_applicable"
    on_time = desk.clocks(desk.on_time)
    assert [on_time[m]["late"] for m in ("first_response", "resolution")] == [False, False]


def test_an_unknown_ticket_is_a_404_problem_in_the_callers_language(desk: Desk) -> None:
    response = desk.client.get(
        f"/v1/sla/tickets/{uuid4()}", headers={**AGENT, "Accept-Language": "en"}
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "ticket-not-found" and body["detail"].startswith("No SLA clocks")
    spanish = desk.client.get(f"/v1/sla/tickets/{uuid4()}", headers=AGENT).json()
    assert spanish["detail"].startswith("No hay relojes")


# --- who may see what -------------------------------------------------------------------------


def test_without_a_known_key_every_endpoint_answers_401(desk: Desk) -> None:
    for path in ("/v1/sla/at-risk", f"/v1/sla/tickets/{desk.friday}", "/v1/sla/compliance"):
        response = desk.client.get(path, headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401, path
        assert response.json()["code"] == "not-authenticated"
        assert response.headers["www-authenticate"] == "Bearer"


def test_customers_see_only_their_own_tenants_tickets(desk: Desk) -> None:
    assert desk.client.get(f"/v1/sla/tickets/{desk.friday}", headers=CUSTOMER).status_code == 200
    other = desk.client.get(f"/v1/sla/tickets/{desk.late}", headers=CUSTOMER)
    assert other.status_code == 404  # not 403: another tenant's ticket does not exist for them
    forbidden = desk.client.get("/v1/sla/breaches", headers=CUSTOMER, params={"tenant": "globex"})
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "not-allowed"
    desk.clock.set(MONDAY_0900 + timedelta(hours=1))
    breaches = desk.get(
        "/v1/sla/breaches", CUSTOMER, since="2026-11-01T00:00:00Z", until="2026-12-01T00:00:00Z"
    )
    assert {item["tenant"] for item in breaches["items"]} == {"acme"}


# --- names: what people call a ticket ---------------------------------------------------------


def test_a_ticket_is_found_by_its_case_number(desk: Desk) -> None:
    by_number = desk.get("/v1/sla/tickets/BIT-000003")
    assert by_number == desk.get(f"/v1/sla/tickets/{desk.friday}")
    assert (by_number["ticket_id"], by_number["case_number"], by_number["title"]) == (
        str(desk.friday),
        "BIT-000003",
        "El portal no responde",
    )
    assert (by_number["tenant"], by_number["state"], by_number["assignee"]) == (
        "acme",
        "open",
        None,
    )
    assert desk.get("/v1/sla/tickets/bit-000003")["ticket_id"] == str(desk.friday)  # as typed
    for unknown in ("BIT-000099", "BIT-1", "no-such-ticket"):
        response = desk.client.get(f"/v1/sla/tickets/{unknown}", headers=AGENT)
        assert response.status_code == 404, unknown
        assert response.json()["code"] == "ticket-not-found"


def test_another_tenants_case_number_is_a_404_as_its_id_is(desk: Desk) -> None:
    assert desk.client.get("/v1/sla/tickets/BIT-000003", headers=CUSTOMER).status_code == 200
    for globex in ("BIT-000001", str(desk.late)):
        response = desk.client.get(f"/v1/sla/tickets/{globex}", headers=CUSTOMER)
        assert response.status_code == 404, globex
        assert response.json()["code"] == "ticket-not-found"


def test_at_risk_rows_name_the_case_title_assignee_and_state(desk: Desk) -> None:
    taken = uuid4()
    office_opens = datetime(2026, 11, 30, 8, 30, tzinfo=MEXICO)
    story: Story = [
        (opened(case_number="BIT-000004", title="No llegan los correos"), office_opens),
        (assigned(), office_opens + timedelta(minutes=5)),
        (te.InProgress(actor=AGENT_ACTOR), office_opens + timedelta(minutes=6)),
    ]
    run(seed(desk.env, "acme", taken, story))
    desk.clock.set(office_opens + timedelta(minutes=15))
    items = desk.get("/v1/sla/at-risk", within="1h")["items"]
    names = ("ticket_id", "case_number", "title", "tenant", "priority", "assignee", "state")
    assert [{k: i[k] for k in names} for i in items if i["metric"] == "resolution"] == [
        {
            "ticket_id": str(desk.friday),  # due 9:00
            "case_number": "BIT-000003",
            "title": "El portal no responde",
            "tenant": "acme",
            "priority": "urgente",
            "assignee": None,
            "state": "open",
        },
        {
            "ticket_id": str(taken),  # due 9:30
            "case_number": "BIT-000004",
            "title": "No llegan los correos",
            "tenant": "acme",
            "priority": "urgente",
            "assignee": {"id": "agent-lucia", "name": "Lucía"},
            "state": "in_progress",
        },
    ]


def test_rows_follow_a_reassignment_and_a_priority_change(desk: Desk) -> None:
    ticket = uuid4()
    office_opens = datetime(2026, 11, 30, 8, 30, tzinfo=MEXICO)
    run(seed(desk.env, "acme", ticket, [(opened(case_number="BIT-000004"), office_opens)]))
    run(
        seed(
            desk.env,
            "acme",
            ticket,
            [(assigned(), office_opens + timedelta(minutes=5))],
            first_version=2,
        )
    )
    desk.clock.set(office_opens + timedelta(minutes=10))

    def names() -> set[tuple[str, str, str | None]]:
        items = desk.get("/v1/sla/at-risk", within="3h")["items"]
        return {
            (i["metric"], i["priority"], i["assignee"] and i["assignee"]["name"])
            for i in items
            if i["ticket_id"] == str(ticket)
        }

    assert names() == {("first_response", "urgente", "Lucía"), ("resolution", "urgente", "Lucía")}
    run(
        seed(
            desk.env,
            "acme",
            ticket,
            [
                (assigned("agent-pedro", "Pedro"), office_opens + timedelta(minutes=20)),
                (reclassified("urgente", "alta"), office_opens + timedelta(minutes=25)),
            ],
            first_version=3,
        )
    )
    assert names() == {("first_response", "alta", "Pedro"), ("resolution", "alta", "Pedro")}
    body = desk.get("/v1/sla/tickets/BIT-000004")
    assert (body["priority"], body["assignee"]) == ("alta", {"id": "agent-pedro", "name": "Pedro"})


async def ticket_rows(env: dict[str, str]) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        database=env["POSTGRES_DBNAME"],
    )
    try:
        return [dict(r) for r in await conn.fetch("SELECT * FROM sla_tickets ORDER BY ticket_id")]
    finally:
        await conn.close()


async def forget_ticket_rows(env: dict[str, str]) -> None:
    """What a deployment older than ``sla_tickets`` has: the table (made at start), empty."""
    conn = await asyncpg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        database=env["POSTGRES_DBNAME"],
    )
    try:
        await conn.execute("TRUNCATE sla_tickets")
    finally:
        await conn.close()


def test_a_rebuild_names_every_ticket_as_the_stream_did(desk: Desk) -> None:
    office_opens = datetime(2026, 11, 30, 8, 30, tzinfo=MEXICO)
    story: Story = [
        (opened(case_number="BIT-000004"), office_opens),
        (assigned(), office_opens + timedelta(minutes=5)),
        (assigned("agent-pedro", "Pedro"), office_opens + timedelta(minutes=20)),
    ]
    run(seed(desk.env, "acme", uuid4(), story))
    desk.clock.set(office_opens + timedelta(minutes=25))
    projected = run(ticket_rows(desk.env))
    assert len(projected) == 4
    at_risk = desk.get("/v1/sla/at-risk", within="1h")

    run(forget_ticket_rows(desk.env))
    unnamed = desk.get("/v1/sla/at-risk", within="1h")["items"]
    assert len(unnamed) == 4 and {i["case_number"] for i in unnamed} == {None}  # still listed
    assert desk.client.get("/v1/sla/tickets/BIT-000004", headers=AGENT).status_code == 404

    assert run(rebuild(settings_for(desk.env))) == 4
    assert run(ticket_rows(desk.env)) == projected
    assert desk.get("/v1/sla/at-risk", within="1h") == at_risk


# --- at risk ----------------------------------------------------------------------------------


def test_at_risk_lists_a_running_clock_only_once_its_deadline_is_within_the_span(
    desk: Desk,
) -> None:
    assert desk.get("/v1/sla/at-risk", within="1h")["items"] == []  # Friday: due Monday

    desk.clock.set(datetime(2026, 11, 30, 8, 15, tzinfo=MEXICO))
    body = desk.get("/v1/sla/at-risk", within="1h")
    assert [(i["ticket_id"], i["metric"]) for i in body["items"]] == [
        (str(desk.friday), "first_response"),
        (str(desk.friday), "resolution"),
    ]
    item = body["items"][0]
    assert item["until_deadline_seconds"] == 45 * 60
    assert item["deadline"]["local"] == "2026-11-30T09:00:00-06:00"
    assert desk.get("/v1/sla/at-risk", within="30m")["items"] == []
    assert desk.get("/v1/sla/at-risk", within="3600", policy="ikhodi")["items"] == []
    assert desk.get("/v1/sla/at-risk", within="1h", tenant="globex")["items"] == []


def test_at_risk_is_capped_at_the_page_size(desk: Desk) -> None:
    desk.clock.set(datetime(2026, 11, 30, 8, 15, tzinfo=MEXICO))
    body = desk.get("/v1/sla/at-risk", within="1h", limit=1)
    assert (len(body["items"]), body["truncated"], body["limit"]) == (1, True, 1)
    assert desk.get("/v1/sla/at-risk", within="1h", limit=10_000)["limit"] == 200  # the cap


@pytest.mark.parametrize("within", ["soon", "0m", "2bd", "40d", "-5"])
def test_a_span_that_is_not_a_positive_duration_of_at_most_31_days_is_a_422(
    desk: Desk, within: str
) -> None:
    response = desk.client.get("/v1/sla/at-risk", headers=AGENT, params={"within": within})
    assert response.status_code == 422, within
    assert response.json()["code"] == "invalid-duration"
    assert response.json()["errors"][0]["field"] == "within"


def test_spans_are_written_like_policy_durations_or_in_seconds() -> None:
    assert parse_within("2h") == timedelta(hours=2)
    assert parse_within("1h30m") == timedelta(minutes=90)
    assert parse_within(" 900 ") == timedelta(minutes=15)


# --- breaches and compliance ------------------------------------------------------------------


def test_breaches_list_clocks_breached_or_met_late_with_their_deadline_in_the_period(
    desk: Desk,
) -> None:
    body = desk.get(
        "/v1/sla/breaches", since="2026-11-23T00:00:00-06:00", until="2026-11-24T00:00:00-06:00"
    )
    assert [(i["ticket_id"], i["metric"], i["status"]) for i in body["items"]] == [
        (str(desk.late), "first_response", "met"),
        (str(desk.late), "resolution", "breached"),
    ]
    assert body["items"][0]["deadline"]["local"] == "2026-11-23T11:00:00-06:00"
    assert body["items"][0]["late"] is True


def test_a_running_clock_past_its_deadline_is_a_breach_before_any_event_rewrites_it(
    desk: Desk,
) -> None:
    period = {"since": "2026-11-30T00:00:00-06:00", "until": "2026-12-01T00:00:00-06:00"}
    desk.clock.set(MONDAY_0900 - timedelta(minutes=1))
    assert desk.get("/v1/sla/breaches", **period)["items"] == []
    desk.clock.set(MONDAY_0900 + timedelta(minutes=1))
    items = desk.get("/v1/sla/breaches", **period)["items"]
    assert [(i["ticket_id"], i["metric"], i["status"]) for i in items] == [
        (str(desk.friday), "first_response", "breached"),
        (str(desk.friday), "resolution", "breached"),
    ]


def test_a_period_must_be_ordered_and_its_instants_carry_a_time_zone(desk: Desk) -> None:
    backwards = {"since": "2026-11-24T00:00:00Z", "until": "2026-11-23T00:00:00Z"}
    response = desk.client.get("/v1/sla/breaches", headers=AGENT, params=backwards)
    assert response.status_code == 422 and response.json()["code"] == "invalid-period"
    naive = desk.client.get("/v1/sla/breaches", headers=AGENT, params={"since": "2026-11-23T00:00"})
    assert naive.status_code == 422 and naive.json()["code"] == "naive-datetime"


def test_compliance_counts_met_clocks_per_policy_and_priority_with_on_time_share_and_spread(
    desk: Desk,
) -> None:
    body = desk.get("/v1/sla/compliance", policy="bitam")
    assert [(g["policy"], g["priority"]) for g in body["items"]] == [("bitam", "urgente")]
    metrics = body["items"][0]["metrics"]
    first = metrics["first_response"]  # 90 min (late) and 20 min (on time)
    assert (first["met"], first["met_on_time"], first["on_time_share"]) == (2, 1, 0.5)
    assert first["median_used_seconds"] == pytest.approx((5400 + 1200) / 2)
    assert first["p90_used_seconds"] == pytest.approx(1200 + 0.9 * (5400 - 1200))
    resolution = metrics["resolution"]  # only the one resolved: 40 min
    assert (resolution["met"], resolution["on_time_share"]) == (1, 1.0)
    assert resolution["median_used_seconds"] == pytest.approx(2400)

    later = desk.get("/v1/sla/compliance", since="2026-11-23T11:00:00-06:00")
    assert later["items"][0]["metrics"]["first_response"]["met"] == 1  # met at 11:30 only
    assert desk.get("/v1/sla/compliance", policy="ikhodi")["items"] == []


def test_a_reopened_ticket_counts_each_resolution_cycle_in_compliance(desk: Desk) -> None:
    before = desk.get("/v1/sla/compliance", policy="bitam")["items"][0]["metrics"]["resolution"]
    reopened, monday = uuid4(), datetime(2026, 11, 23, 10, tzinfo=MEXICO)
    story: Story = [
        (opened(case_number="BIT-000004"), monday),
        (replied(), monday + timedelta(minutes=10)),
        (resolved(), monday + timedelta(minutes=20)),  # cycle 1: met in 20 min, on time
        (te.Reopened(actor=CUSTOMER_ACTOR, reason="Sigue fallando"), monday + timedelta(hours=2)),
        # cycle 2 starts from zero at 12:00; one business hour later (13:00) it is late
        (resolved(), monday + timedelta(hours=3, minutes=30)),
    ]
    run(seed(desk.env, "acme", reopened, story))
    resolution = desk.clocks(reopened)["resolution"]
    assert (resolution["cycle"], resolution["status"], resolution["late"]) == (2, "met", True)
    assert resolution["used_seconds"] == 90 * 60
    (first,) = resolution["earlier_cycles"]
    assert (first["cycle"], first["used_seconds"], first["late"]) == (1, 20 * 60, False)
    after = desk.get("/v1/sla/compliance", policy="bitam")["items"][0]["metrics"]["resolution"]
    assert after["met"] == before["met"] + 2  # both cycles count
    assert after["met_on_time"] == before["met_on_time"] + 1


# --- health -----------------------------------------------------------------------------------


def test_healthz_and_readyz_answer_when_the_database_is_reachable(desk: Desk) -> None:
    assert desk.client.get("/healthz").json() == {"status": "ok"}
    assert desk.client.get("/readyz").json() == {"status": "ok", "database": "ok"}


def test_readyz_and_reads_answer_503_when_the_database_is_unreachable(
    postgres_env: dict[str, str],
) -> None:
    env = {**postgres_env, "POSTGRES_PORT": "1"}  # nothing listens there
    settings = settings_for(env, postgres_connect_timeout=0.5)
    with TestClient(
        create_app(settings, clock=ManualClock(FRIDAY_1730), principals=dev_introspection())
    ) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        response = client.get("/v1/sla/at-risk", headers=AGENT)
        assert response.status_code == 503
        assert response.json()["code"] == "database-unavailable"


# --- the stream -------------------------------------------------------------------------------


def test_an_sse_message_has_its_id_event_name_and_one_line_of_json() -> None:
    message = sse("clock", {"metric": "resolution", "note": "línea\nsegunda"}, "2026-11-30")
    assert message == (
        "id: 2026-11-30\nevent: clock\n"
        'data: {"metric": "resolution", "note": "línea\\nsegunda"}\n\n'
    )


def read_events(lines: Iterator[str], count: int, timeout: float) -> list[dict[str, Any]]:
    """The next ``count`` ``event: clock`` messages; keep-alives bound the wait."""
    deadline = time.monotonic() + timeout
    events: list[dict[str, Any]] = []
    name = None
    for line in lines:
        assert time.monotonic() < deadline, f"only {len(events)} of {count} events came"
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name == "clock":
            events.append(json.loads(line[6:]))
            if len(events) == count:
                return events
    raise AssertionError("the stream ended")


def test_the_stream_sends_clocks_as_they_are_written_and_as_deadlines_pass(desk: Desk) -> None:
    desk.clock.set(MONDAY_0900 - timedelta(minutes=10))
    newcomer = uuid4()
    with desk.client.stream("GET", "/v1/sla/stream", headers=AGENT) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        # A ticket projected after the client connected is sent, each of its clocks once.
        newcomer_opened = opened(case_number="BIT-000004")
        run(
            seed(
                desk.env, "acme", newcomer, [(newcomer_opened, MONDAY_0900 - timedelta(minutes=5))]
            )
        )
        written = read_events(lines, 4, timeout=15)
        assert {(e["ticket_id"], e["change"]) for e in written} == {(str(newcomer), "written")}
        assert {(e["case_number"], e["title"], e["state"]) for e in written} == {
            ("BIT-000004", "El portal no responde", "open")
        }
        assert sorted(e["metric"] for e in written) == [
            "decision",
            "first_response",
            "resolution",
            "update",
        ]
        # Friday's ticket has no new event, but its running clocks pass their deadline.
        desk.clock.set(MONDAY_0900 + timedelta(minutes=1))
        passed = read_events(lines, 2, timeout=15)
    assert {(e["ticket_id"], e["metric"], e["status"], e["change"]) for e in passed} == {
        (str(desk.friday), "first_response", "breached", "deadline_passed"),
        (str(desk.friday), "resolution", "breached", "deadline_passed"),
    }


# --- the whole service: consumer and reads ----------------------------------------------------


async def publish(url: str, ticket: UUID, story: Story) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_stream(js, TICKETS_STREAM, StreamSettings())
    for version, (payload, at) in enumerate(story, start=1):
        event = envelope(
            payload,
            ticket_id=ticket,
            ticket_version=version,
            tenant="acme",
            policy="bitam",
            time=at,
            source="/ticket-api",
        )
        await js.publish(
            subject(payload.event_name, tenant="acme", ticket_id=ticket),
            to_wire(event),
            headers={"Nats-Msg-Id": event.id},
        )
    await nc.close()


def test_with_nats_configured_the_app_projects_ticket_events_and_serves_their_clocks(
    nats_server: NatsServer, postgres_env: dict[str, str]
) -> None:
    ticket = uuid4()
    run(publish(nats_server.url, ticket, [(opened(), FRIDAY_1730)]))
    settings = settings_for(postgres_env, nats_url=nats_server.url)
    clock = ManualClock(FRIDAY_1730 + timedelta(minutes=15))
    with TestClient(create_app(settings, clock=clock, principals=dev_introspection())) as client:
        consumer = client.app.state.background.consumer  # type: ignore[attr-defined]
        client.portal.call(  # type: ignore[union-attr]
            asyncio.wait_for, consumer.wait_handled(1), 20
        )
        response = client.get(f"/v1/sla/tickets/{ticket}", headers=AGENT)
        assert response.status_code == 200, response.text
        first = {c["metric"]: c for c in response.json()["clocks"]}["first_response"]
        assert first["deadline"]["utc"] == MONDAY_0900.astimezone(UTC).isoformat().replace(
            "+00:00", "Z"
        )
