"""Bad input gets a clear 4xx problem document and changes nothing — never a 500."""

from __future__ import annotations

import time
from typing import Any

import pytest

from conftest import AGENT, BTW_INTAKE, CUSTOMER, Api, is_problem

GOOD = {
    "policy": "btw",
    "title": "Error XML",
    "description": "El XML es rechazado",
    "ticket_type": "soporte",
    "subcategory": "error-xml",
    "intake": BTW_INTAKE,
}


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k != key}


MALFORMED: list[tuple[str, dict[str, Any]]] = [
    (
        "invalid JSON",
        {"content": b'{"policy": "btw",', "headers": {"content-type": "application/json"}},
    ),
    ("a JSON array", {"json": [GOOD]}),
    ("a JSON string", {"json": "hola"}),
    ("empty body", {"content": b"", "headers": {"content-type": "application/json"}}),
    ("missing title", {"json": without("title")}),
    ("title as a number", {"json": {**GOOD, "title": 42}}),
    ("blank description", {"json": {**GOOD, "description": "   "}}),
    ("a huge string", {"json": {**GOOD, "description": "x" * 50_000}}),
    (
        "a huge body",
        {
            "content": b'{"x": "' + b"y" * 2_000_000 + b'"}',
            "headers": {"content-type": "application/json"},
        },
    ),
    ("an unknown field", {"json": {**GOOD, "urgency": "now"}}),
    ("a policy id with spaces", {"json": {**GOOD, "policy": "btw policy"}}),
    ("an unknown policy", {"json": {**GOOD, "policy": "nobody"}}),
    ("a nested intake object too deep", {"json": {**GOOD, "intake": {"nit": {"a": {"b": 1}}}}}),
    ("null intake", {"json": {**GOOD, "intake": None}}),
    (
        "a follow-up of a ticket that does not exist",
        {"json": {**GOOD, "follow_up_of": "00000000-0000-4000-8000-000000000000"}},
    ),
    ("a follow-up id that is not a UUID", {"json": {**GOOD, "follow_up_of": "BTW-1"}}),
    ("an unknown channel", {"json": {**GOOD, "channel": "fax"}}),
    ("form data instead of JSON", {"data": {"policy": "btw"}}),
    ("a NUL character in the title", {"json": {**GOOD, "title": "a\u0000b"}}),
    (
        "a control character in an intake field",
        {"json": {**GOOD, "intake": {**BTW_INTAKE, "nit": "900\u0007"}}},
    ),
]


@pytest.mark.parametrize(("case", "request_kwargs"), MALFORMED, ids=[c for c, _ in MALFORMED])
def test_malformed_requests_to_open_a_ticket_are_4xx_problems_and_save_nothing(
    api: Api, case: str, request_kwargs: dict[str, Any]
) -> None:
    kwargs = dict(request_kwargs)  # the same case runs once per store: do not consume it
    headers = {**CUSTOMER, **kwargs.pop("headers", {})}
    saved_before = api.desk.recorder.max_notification_id()  # the development directory
    response = api.client.post("/v1/tickets", headers=headers, **kwargs)
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text[:300])
    assert is_problem(response), response.text[:300]
    assert "Traceback" not in response.text
    assert api.desk.recorder.max_notification_id() == saved_before


COMMANDS: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
    ("assign without an agent", "assign", {"agent_name": "x"}, {}),
    ("assign to level 0", "assign", {"agent_id": "a", "agent_name": "b", "support_level": 0}, {}),
    (
        "escalate with a naive ETR",
        "escalate",
        {"to_level": 2, "reason": "x", "etr": "2026-11-24T18:00:00"},
        {},
    ),
    (
        "escalate with an ETR that is not a date",
        "escalate",
        {"to_level": 2, "reason": "x", "etr": "mañana"},
        {},
    ),
    ("resolve with an unknown resolution", "resolve", {"resolution": "magic", "summary": "x"}, {}),
    ("close with an unknown closure", "close", {"closure": "forever"}, {}),
    ("an If-Match that is not a version", "start", {}, {"If-Match": "yesterday"}),
    ("close an open ticket as confirmed", "close", {"closure": "confirmed"}, {}),
    ("start an unassigned ticket", "start", {}, {}),
    ("reopen an open ticket", "reopen", {"reason": "x"}, {}),
    (
        "feature review of a support ticket",
        "feature-review",
        {"viable": True},
        {"Authorization": "Bearer dev-supervisor"},
    ),
    (
        "reclassify to an unknown priority",
        "priority",
        {"priority": "p9", "subcategory": None, "reason": "x"},
        {},
    ),
    ("an oversized Idempotency-Key", "start", {}, {"Idempotency-Key": "k" * 500}),
    ("a 5000-digit If-Match", "start", {}, {"If-Match": '"' + "9" * 5000 + '"'}),
    ("a NUL in a note", "notes", {"body": "x\u0000y"}, {}),
]


@pytest.mark.parametrize(
    ("case", "command", "body", "headers"), COMMANDS, ids=[c[0] for c in COMMANDS]
)
def test_refused_commands_are_4xx_problems_and_leave_the_ticket_unchanged(
    api: Api, case: str, command: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    ticket = api.open()
    before = api.client.get(f"/v1/tickets/{ticket['id']}", headers=AGENT).json()
    response = api.client.post(
        f"/v1/tickets/{ticket['id']}/{command}", json=body, headers={**AGENT, **headers}
    )
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text[:300])
    assert is_problem(response)
    after = api.client.get(f"/v1/tickets/{ticket['id']}", headers=AGENT).json()
    assert after == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/tickets/not-a-ticket"),
        ("GET", "/v1/tickets/" + "x" * 5000),
        ("GET", "/v1/tickets?limit=0"),
        ("GET", "/v1/tickets?limit=abc"),
        ("GET", "/v1/tickets?level=99"),
        ("GET", "/v1/tickets?updated_since=yesterday"),
        ("GET", "/v1/tickets?updated_since=2026-11-24T10:00:00"),
        ("GET", "/v1/tickets?cursor=bm90LWEtY3Vyc29y"),
        ("DELETE", "/v1/tickets"),
        ("POST", "/v1/tickets/00000000-0000-4000-8000-000000000000/start"),
        ("GET", "/v1/nothing-here"),
    ],
)
def test_bad_paths_and_queries_are_4xx_problems(api: Api, method: str, path: str) -> None:
    response = api.client.request(method, path, headers=AGENT)
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert is_problem(response)


def test_an_unreachable_event_store_answers_503_with_retry_after_and_saves_nothing(
    postgres_api: Api,
) -> None:
    api = postgres_api
    ticket = api.open()
    env = api.desk.env
    import psycopg

    admin = psycopg.connect(
        host=env.get("POSTGRES_HOST"),
        port=env.get("POSTGRES_PORT"),
        user=env.get("POSTGRES_USER"),
        password=env.get("POSTGRES_PASSWORD"),
        dbname="postgres",
        autocommit=True,
    )
    dbname = env.get("POSTGRES_DBNAME")
    admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS false')
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (dbname,)
    )
    try:
        response = api.client.post(
            f"/v1/tickets/{ticket['id']}/notes", json={"body": "x"}, headers=AGENT
        )
        assert is_problem(response, 503)
        assert response.headers["retry-after"] == "5"
        assert api.client.get("/readyz").status_code == 503
    finally:
        admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS true')
        admin.close()
    # The store is back; a pooled connection the outage killed may cost one more 503 (one try
    # per call, by design): wait, bounded, for the store to answer again.
    deadline = time.monotonic() + 10
    while (
        read := api.client.get(f"/v1/tickets/{ticket['id']}/events", headers=AGENT)
    ).status_code == 503:
        assert time.monotonic() < deadline, "the store did not come back"
    history = read.json()
    assert [e["type"] for e in history] == ["ticket.opened"]
