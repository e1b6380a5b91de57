"""ticket-api fixtures: the real app on SQLite and on a real PostgreSQL, with a manual clock.

Every API test runs once per store, so both backends pass the same suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from servicekit.clock import ManualClock
from ticket_api.application import TicketDesk
from ticket_api.main import create_app
from ticket_api.settings import DEV_PRINCIPALS, Settings

POLICIES = Path(__file__).resolve().parents[3] / "policies"
T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Mexico City

KEYS = {
    **DEV_PRINCIPALS,
    "other-customer": {
        "kind": "customer",
        "id": "contact-bob",
        "name": "Bob Lee",
        "tenant": "globex",
        "email": "bob@globex.example",
        "locale": "en",
    },
}
KEYS["globex-agent"] = {"kind": "agent", "id": "agent-pablo"}  # serves globex only
CUSTOMER = {"Authorization": "Bearer dev-customer"}
OTHER_CUSTOMER = {"Authorization": "Bearer other-customer"}
AGENT = {"Authorization": "Bearer dev-agent"}
SUPERVISOR = {"Authorization": "Bearer dev-supervisor"}
SERVICE = {"Authorization": "Bearer dev-service"}
ADMIN = {"Authorization": "Bearer dev-admin"}
GLOBEX_AGENT = {"Authorization": "Bearer globex-agent"}

BTW_INTAKE = {
    "nit": "900123456-7",
    "nombre-contacto": "Ana Ruiz",
    "correo-contacto": "ana@acme.example",
    "telefono-contacto": "+57 300 000 0000",
    "evidencia": {"name": "error.png", "media_type": "image/png"},
}


@dataclass
class Api:
    client: TestClient
    clock: ManualClock
    store: str

    @property
    def desk(self) -> TicketDesk:
        return self.client.app.state.desk  # type: ignore[attr-defined,no-any-return]

    def open(self, headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
        """Open a BTW ticket as the customer; returns the ticket."""
        body = {
            "policy": "btw",
            "title": "Error 500 DIAN al enviar facturas",
            "description": "Desde las 9:00 la DIAN responde 500.",
            "ticket_type": "soporte",
            "subcategory": "error-500-dian",
            "intake": BTW_INTAKE,
            **overrides,
        }
        response = self.client.post("/v1/tickets", json=body, headers=headers or CUSTOMER)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def do(
        self,
        ticket: dict[str, Any],
        command: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        return self.client.post(
            f"/v1/tickets/{ticket['id']}/{command}", json=body or {}, headers=headers or AGENT
        )


def running_api(
    request: pytest.FixtureRequest, tmp_path: Path, store: str, **overrides: Any
) -> Iterator[Api]:
    clock = ManualClock(T0)
    settings = Settings(
        store=store,
        data_dir=tmp_path,
        policies_dir=POLICIES,
        dev_keys=KEYS,
        page_size_cap=50,
        **overrides,
    )
    environ: dict[str, str] = {}
    if store == "postgres":
        # Fail fast when a test cuts the database off (the library retries each call 10x).
        environ = {**request.getfixturevalue("postgres_env"), "POSTGRES_CONNECT_TIMEOUT": "1"}
    with TestClient(create_app(settings, clock=clock, environ=environ)) as client:
        yield Api(client, clock, store)


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The app on each store in turn: both backends pass the same suite."""
    yield from running_api(request, tmp_path, request.param)


@pytest.fixture
def postgres_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The app on PostgreSQL only, for what only a networked database can do (go away)."""
    yield from running_api(request, tmp_path, "postgres")


def is_problem(response: Any, status: int | None = None) -> bool:
    """A 4xx/5xx answered as RFC 9457 problem+json with the fields clients rely on."""
    body = response.json()
    return (
        response.headers["content-type"].startswith("application/problem+json")
        and (status is None or response.status_code == status)
        and body["status"] == response.status_code
        and all(body.get(k) for k in ("type", "title", "detail", "code"))
    )
