"""Bulk commands: one command over many tickets, each item on its own, the same on a repeat."""

from __future__ import annotations

from typing import Any

from conftest import AGENT, GLOBEX_AGENT, OTHER_CUSTOMER, Api, is_problem

ASSIGN = {"type": "assign", "agent_id": "agent-pablo", "agent_name": "Pablo"}


def bulk(api: Api, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return api.client.post("/v1/tickets/bulk", json=body, headers=headers or GLOBEX_AGENT)


def test_each_item_succeeds_or_fails_on_its_own(api: Api) -> None:
    fresh = api.open(OTHER_CUSTOMER, title="Uno")
    moved = api.open(OTHER_CUSTOMER, title="Dos")
    api.do(moved, "notes", {"body": "Visto"}, headers=GLOBEX_AGENT)  # now at version 2
    acme = api.open(title="De otro tenant")  # globex-agent does not serve acme
    items = [
        {"ticket": fresh["case_number"], "if_match": 1},
        {"ticket": moved["id"], "if_match": 1},
        {"ticket": acme["case_number"]},
    ]
    response = bulk(
        api, {"command": ASSIGN, "items": items}, {**GLOBEX_AGENT, "Accept-Language": "en"}
    )
    assert response.status_code == 200, response.text
    applied, stale, foreign = response.json()["items"]
    assert applied["status"] == 200 and applied["version"] == 2
    assert api.client.get(f"/v1/tickets/{fresh['id']}", headers=AGENT).json()["assignee"]
    assert stale["status"] == 412 and stale["problem"]["code"] == "stale-version"
    assert "version 2" in stale["problem"]["detail"]
    assert foreign["status"] == 404 and foreign["problem"]["code"] == "ticket-not-found"
    assert foreign["problem"]["detail"] == f"No ticket {acme['case_number']}."
    assert api.client.get(f"/v1/tickets/{moved['id']}", headers=AGENT).json()["version"] == 2


def test_more_than_100_items_is_a_422(api: Api) -> None:
    items = [{"ticket": f"BTW-{n:06d}"} for n in range(1, 102)]
    response = bulk(api, {"command": {"type": "note", "body": "x"}, "items": items})
    assert is_problem(response, 422)
    assert response.json()["errors"][0]["field"] == "items"


def test_a_customer_may_not_assign_in_bulk(api: Api) -> None:
    ticket = api.open(OTHER_CUSTOMER)
    body = {"command": ASSIGN, "items": [{"ticket": ticket["id"]}]}
    assert is_problem(bulk(api, body, OTHER_CUSTOMER), 403)


def test_a_repeated_bulk_request_gets_the_same_results(api: Api) -> None:
    ticket = api.open(OTHER_CUSTOMER, title="Uno")
    headers = {**GLOBEX_AGENT, "Idempotency-Key": "triage-monday"}
    body = {
        "command": {"type": "note", "body": "Revisado en triage"},
        "items": [{"ticket": ticket["id"], "if_match": 1}, {"ticket": "BTW-999999"}],
    }
    first = bulk(api, body, headers)
    assert first.status_code == 200, first.text
    again = bulk(api, body, headers)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    history = api.client.get(f"/v1/tickets/{ticket['id']}/events", headers=AGENT).json()
    assert [e["type"] for e in history].count("ticket.note_added") == 1  # applied once
    other = bulk(api, {**body, "items": body["items"][:1]}, headers)
    assert is_problem(other, 422) and other.json()["code"] == "idempotency-key-reused"
