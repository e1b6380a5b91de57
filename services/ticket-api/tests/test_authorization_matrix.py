"""The authorization matrix: every role × every endpoint × its own or another tenant's ticket.

Each cell is the status the caller gets. The ticket belongs to Ana's tenant (acme): a caller of
another tenant — Bob, a customer of globex, or Pablo, an agent who serves only globex — is told
it does not exist (404, never 403: its existence is not disclosed). Roles that may never do a
thing are refused with 403 whatever the ticket. Without credentials: 401.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Api, running_api

CALLERS = {
    "anonymous": {},
    "customer (own tenant)": {"Authorization": "Bearer dev-customer"},
    "customer (other tenant)": {"Authorization": "Bearer other-customer"},
    "agent (all tenants)": {"Authorization": "Bearer dev-agent"},
    "agent (other tenant)": {"Authorization": "Bearer globex-agent"},
    "supervisor": {"Authorization": "Bearer dev-supervisor"},
    "admin": {"Authorization": "Bearer dev-admin"},
    "service": {"Authorization": "Bearer dev-service"},
}
BITAM = {
    "policy": "bitam",
    "title": "Reporte vacío",
    "description": "El reporte sale vacío",
    "ticket_type": "soporte",
    "priority": "media",
    "product": "ebavel",
    "product_version": "6.6",
}
Call = Callable[[Api, dict[str, Any], dict[str, str]], Any]


def post(path: str, body: dict[str, Any] | None = None) -> Call:
    def call(api: Api, ticket: dict[str, Any], headers: dict[str, str]) -> Any:
        return api.client.post(path.format(**ticket), json=body or {}, headers=headers)

    return call


def get(path: str) -> Call:
    def call(api: Api, ticket: dict[str, Any], headers: dict[str, str]) -> Any:
        return api.client.get(path.format(**ticket), headers=headers)

    return call


#             anon cust  other agent a-oth sup  admin service
MATRIX: dict[str, tuple[Call, tuple[int, ...]]] = {
    "read a ticket": (get("/v1/tickets/{id}"), (401, 200, 404, 200, 404, 200, 200, 200)),
    "read by case number": (
        get("/v1/tickets/{case_number}"),
        (401, 200, 404, 200, 404, 200, 200, 200),
    ),
    "read its history": (
        get("/v1/tickets/{id}/events"),
        (401, 200, 404, 200, 404, 200, 200, 200),
    ),
    "search tickets": (get("/v1/tickets"), (401, 200, 200, 200, 200, 200, 200, 200)),
    "open for a customer": (
        post("/v1/tickets", {**BITAM, "tenant": "acme", "contact": "contact-ana"}),
        (401, 201, 403, 201, 403, 201, 201, 201),
    ),
    "reply": (
        post("/v1/tickets/{id}/replies", {"body": "Hola", "public": True}),
        (401, 200, 404, 200, 404, 200, 200, 403),
    ),
    "assign": (
        post("/v1/tickets/{id}/assign", {"agent_id": "agent-lucia", "agent_name": "Lucía"}),
        (401, 403, 403, 200, 404, 200, 200, 403),
    ),
    "add an internal note": (
        post("/v1/tickets/{id}/notes", {"body": "Revisar"}),
        (401, 403, 403, 200, 404, 200, 200, 200),
    ),
    "escalate": (
        post(
            "/v1/tickets/{id}/escalate",
            {"to_level": 2, "reason": "x", "etr": "2026-12-01T12:00:00Z"},
        ),
        (401, 403, 403, 200, 404, 200, 200, 200),
    ),
    "list policies": (get("/v1/policies"), (401, 200, 200, 200, 200, 200, 200, 200)),
    "list tenants": (get("/v1/tenants"), (401, 403, 403, 200, 200, 200, 200, 403)),
    "read a contact": (
        get("/v1/tenants/acme/contacts/contact-ana"),
        (401, 403, 403, 200, 404, 200, 200, 403),
    ),
    "register a tenant": (
        post("/v1/tenants", {"slug": "initech", "name": "Initech"}),
        (401, 403, 403, 403, 403, 403, 201, 403),
    ),
    "issue an API key": (
        post("/v1/api-keys", {"holder": {"kind": "service", "id": "erp"}, "label": "ERP"}),
        (401, 403, 403, 403, 403, 403, 201, 403),
    ),
}


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    yield from running_api(request, tmp_path, "sqlite", rate_limit="10000/minute")


@pytest.mark.parametrize("action", list(MATRIX))
def test_each_role_gets_exactly_its_cell_of_the_matrix(app: Api, action: str) -> None:
    call, expected = MATRIX[action]
    got = []
    for caller, headers in CALLERS.items():
        if action == "register a tenant":  # each admin call registers it anew
            app.client.patch("/v1/tenants/initech", json={}, headers=CALLERS["admin"])
        ticket = app.client.post(
            "/v1/tickets", json=BITAM, headers=CALLERS["customer (own tenant)"]
        )
        assert ticket.status_code == 201, ticket.text
        response = call(app, ticket.json(), headers)
        assert response.status_code < 500, (caller, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
        got.append(response.status_code)
    assert dict(zip(CALLERS, got, strict=True)) == dict(zip(CALLERS, expected, strict=True))


def test_search_shows_each_caller_only_what_they_may_see(app: Api) -> None:
    ana = app.client.post("/v1/tickets", json=BITAM, headers=CALLERS["customer (own tenant)"])
    bob = app.client.post("/v1/tickets", json=BITAM, headers=CALLERS["customer (other tenant)"])
    visible = {
        caller: {t["id"] for t in app.client.get("/v1/tickets", headers=h).json()["items"]}
        for caller, h in CALLERS.items()
        if h
    }
    a, b = ana.json()["id"], bob.json()["id"]
    assert visible == {
        "customer (own tenant)": {a},
        "customer (other tenant)": {b},
        "agent (all tenants)": {a, b},
        "agent (other tenant)": {b},
        "supervisor": {a, b},
        "admin": {a, b},
        "service": {a, b},
    }
