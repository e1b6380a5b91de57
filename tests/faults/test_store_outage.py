"""ticket-api with its event store gone: every request is a fast 503, nothing is half-written.

A real PostgreSQL of this test's own (the shared test server must stay up for the others) is
stopped under a running ticket-api, as a crash or a failover would, and started again. Clients
commonly give up after 10 s; before ADR 15 the library's retries made each request wait 12 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from postgres import StoppablePostgres, stoppable_postgres

from ticket_api.main import create_app
from ticket_api.settings import DEV_PRINCIPALS, Settings

ROOT = Path(__file__).resolve().parents[2]
ANSWER_WITHIN_SECONDS = 2.5
RECOVERY_SECONDS = 30.0
CUSTOMER = {"Authorization": "Bearer dev-customer"}
AGENT = {"Authorization": "Bearer dev-agent"}
OPEN = {
    "policy": "btw",
    "title": "Error 500 DIAN al enviar facturas",
    "description": "Desde las 9:00 la DIAN responde 500.",
    "ticket_type": "soporte",
    "subcategory": "error-500-dian",
    "intake": {
        "nit": "900123456-7",
        "nombre-contacto": "Ana Ruiz",
        "correo-contacto": "ana@acme.example",
        "telefono-contacto": "+57 300 000 0000",
        "evidencia": {"name": "error.png", "media_type": "image/png"},
    },
}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[StoppablePostgres]:
    with stoppable_postgres() as server:
        yield server


@pytest.fixture
def client(database: StoppablePostgres, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        store="postgres", data_dir=tmp_path, policies_dir=ROOT / "policies", dev_keys=DEV_PRINCIPALS
    )
    with TestClient(create_app(settings, environ=database.env)) as client:
        yield client


def timed(send: Any) -> tuple[Any, float]:
    began = time.monotonic()
    response = send()
    return response, time.monotonic() - began


def stored_events(client: TestClient) -> int:
    return int(client.app.state.desk.recorder.max_notification_id() or 0)  # type: ignore[attr-defined]


def test_with_the_store_down_every_request_is_a_fast_503_and_nothing_is_half_written(
    database: StoppablePostgres, client: TestClient
) -> None:
    first = client.post("/v1/tickets", json=OPEN, headers=CUSTOMER).json()
    before = stored_events(client)

    database.stop()
    retried_open = {**CUSTOMER, "Idempotency-Key": "during-outage"}
    attempts = {
        "open": lambda: client.post("/v1/tickets", json=OPEN, headers=retried_open),
        "read by id": lambda: client.get(f"/v1/tickets/{first['id']}", headers=CUSTOMER),
        "read by case number": lambda: client.get("/v1/tickets/BTW-000001", headers=CUSTOMER),
        "list": lambda: client.get("/v1/tickets", headers=AGENT),
        "assign": lambda: client.post(
            f"/v1/tickets/{first['id']}/assign",
            json={"agent_id": "agent-lucia", "agent_name": "Lucía Gómez"},
            headers=AGENT,
        ),
        "history": lambda: client.get(f"/v1/tickets/{first['id']}/events", headers=AGENT),
    }
    for what, send in attempts.items():
        response, seconds = timed(send)
        assert response.status_code == 503, (what, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), what
        assert response.json()["code"] == "store-unavailable", what
        assert response.headers["retry-after"], what
        assert seconds < ANSWER_WITHIN_SECONDS, (what, seconds)
    ready, seconds = timed(lambda: client.get("/readyz"))
    assert ready.status_code == 503 and seconds < ANSWER_WITHIN_SECONDS
    assert client.get("/healthz").status_code == 200  # alive: restarting it would not help

    database.start()
    deadline = time.monotonic() + RECOVERY_SECONDS
    while client.get("/readyz").status_code != 200:  # each try is bounded by the pool timeout
        assert time.monotonic() < deadline, "ticket-api did not recover with its store"
    # Nothing of the refused requests was stored: not a ticket, a case number, a key or a
    # change; the client's retry of its open is a first attempt and takes the next number.
    assert stored_events(client) == before
    history = client.get(f"/v1/tickets/{first['id']}/events", headers=AGENT).json()
    assert [e["type"] for e in history] == ["ticket.opened"]
    retry = client.post("/v1/tickets", json=OPEN, headers=retried_open)
    assert retry.status_code == 201 and "idempotent-replayed" not in retry.headers
    assert retry.json()["case_number"] == "BTW-000002"
