"""The REST API as an integrating client meets it: on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from conftest import AGENT, CUSTOMER, OTHER_CUSTOMER, SERVICE, SUPERVISOR, T0, Api, is_problem
from ticket_api.application import TicketDesk


def test_opening_returns_201_with_location_etag_and_a_case_number(api: Api) -> None:
    response = api.client.post(
        "/v1/tickets",
        json={
            "policy": "btw",
            "title": "Error XML",
            "description": "El XML es rechazado",
            "ticket_type": "soporte",
            "subcategory": "error-xml",
            "intake": {
                "nit": "900",
                "nombre-contacto": "Ana",
                "correo-contacto": "ana@acme.example",
                "telefono-contacto": "1",
                "evidencia": {"name": "e.png", "media_type": "image/png"},
            },
        },
        headers=CUSTOMER,
    )
    assert response.status_code == 201
    ticket = response.json()
    assert response.headers["location"].endswith(f"/v1/tickets/{ticket['id']}")
    assert response.headers["etag"] == '"1"'
    assert ticket["case_number"] == "BTW-000001"
    assert ticket["priority"] == "p2"  # the subcategory decides (004)
    assert ticket["tenant"] == "acme" and ticket["contact"]["id"] == "contact-ana"
    assert ticket["state"] == "open" and ticket["created_at"].startswith("2026-11-24T15:00")


def test_a_ticket_is_found_by_id_and_by_case_number(api: Api) -> None:
    ticket = api.open()
    by_id = api.client.get(f"/v1/tickets/{ticket['id']}", headers=CUSTOMER)
    by_case = api.client.get("/v1/tickets/btw-000001", headers=CUSTOMER)
    assert by_id.json() == by_case.json() == ticket
    assert by_id.headers["etag"] == '"1"'
    assert is_problem(api.client.get("/v1/tickets/BTW-000099", headers=CUSTOMER), 404)


def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(api: Api) -> None:
    headers = {**CUSTOMER, "Idempotency-Key": "order-7"}
    first = api.open(headers=headers)
    api.clock.advance(timedelta(minutes=5))
    retry = api.client.post(
        "/v1/tickets",
        json={
            "policy": "btw",
            "title": "Error 500 DIAN al enviar facturas",
            "description": "Desde las 9:00 la DIAN responde 500.",
            "ticket_type": "soporte",
            "subcategory": "error-500-dian",
            "intake": api_intake(),
        },
        headers=headers,
    )
    assert retry.status_code == 201
    assert retry.json() == first
    assert retry.headers["idempotent-replayed"] == "true"
    # nothing happened twice: one ticket, one case number
    assert [t["case_number"] for t in list_all(api)] == ["BTW-000001"]


def test_the_same_idempotency_key_with_another_body_is_refused(api: Api) -> None:
    headers = {**CUSTOMER, "Idempotency-Key": "order-8"}
    api.open(headers=headers)
    other = api.client.post(
        "/v1/tickets",
        json={
            "policy": "btw",
            "title": "Otro asunto",
            "description": "x",
            "ticket_type": "soporte",
            "subcategory": "error-xml",
            "intake": api_intake(),
        },
        headers=headers,
    )
    assert is_problem(other, 422) and other.json()["code"] == "idempotency-key-reused"


def test_commands_are_idempotent_too(api: Api) -> None:
    ticket = api.open()
    headers = {**SERVICE, "Idempotency-Key": "escalate-1"}
    etr = (T0 + timedelta(hours=6)).isoformat()
    api.do(ticket, "assign", {"agent_id": "agent-lucia", "agent_name": "Lucía"})
    body = {"to_level": 2, "reason": "Sin resolución", "etr": etr}
    first = api.do(ticket, "escalate", body, headers)
    again = api.do(ticket, "escalate", body, headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    events = api.client.get(f"/v1/tickets/{ticket['id']}/events", headers=AGENT).json()
    assert [e["type"] for e in events].count("ticket.escalated") == 1


def test_a_stale_if_match_is_refused_with_412_and_the_current_etag(api: Api) -> None:
    ticket = api.open()
    assigned = api.client.post(
        f"/v1/tickets/{ticket['id']}/assign",
        json={"agent_id": "a", "agent_name": "Luis"},
        headers={**AGENT, "If-Match": '"1"'},
    )
    assert assigned.status_code == 200 and assigned.headers["etag"] == '"2"'
    stale = api.client.post(
        f"/v1/tickets/{ticket['id']}/start", headers={**AGENT, "If-Match": '"1"'}
    )
    assert is_problem(stale, 412) and stale.headers["etag"] == '"2"'


def test_two_writers_racing_on_one_ticket_one_wins_the_other_gets_409(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = api.open()
    # Both requests read the ticket, then wait for each other before saving: a true race.
    both_have_read = threading.Barrier(2, timeout=10)
    original = TicketDesk.change

    def change_after_both_read(
        self: TicketDesk, ticket_id: UUID, command: Callable[..., None], **kwargs: Any
    ) -> Any:
        def racing(*args: Any) -> None:
            command(*args)
            both_have_read.wait()

        return original(self, ticket_id, racing, **kwargs)

    monkeypatch.setattr(TicketDesk, "change", change_after_both_read)
    statuses: list[int] = []

    def reply(text: str) -> None:
        statuses.append(api.do(ticket, "replies", {"body": text, "public": True}).status_code)

    writers = [threading.Thread(target=reply, args=(t,)) for t in ("Uno", "Dos")]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert sorted(statuses) == [200, 409]
    monkeypatch.undo()
    history = api.client.get(f"/v1/tickets/{ticket['id']}/events", headers=AGENT).json()
    assert [e["type"] for e in history] == ["ticket.opened", "ticket.agent_replied"]


def test_case_numbers_stay_unique_and_gap_free_with_concurrent_writers(api: Api) -> None:
    def open_many() -> None:
        for _ in range(8):
            api.open()

    writers = [threading.Thread(target=open_many) for _ in range(3)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    numbers = sorted(t["case_number"] for t in list_all(api))
    assert numbers == [f"BTW-{n:06d}" for n in range(1, 25)]


def test_the_list_filters_and_pages_with_a_cursor_under_a_hard_cap(api: Api) -> None:
    for _ in range(3):
        api.open()
        api.clock.advance(timedelta(minutes=1))
    xml = api.open(subcategory="error-xml")
    etr = (T0 + timedelta(hours=8)).isoformat()
    api.do(xml, "escalate", {"to_level": 2, "reason": "Requiere nivel 2", "etr": etr}, SERVICE)
    api.do(xml, "assign", {"agent_id": "agent-lucia", "agent_name": "Lucía"})
    first = api.client.get("/v1/tickets?priority=p1&limit=2", headers=AGENT).json()
    second = api.client.get(
        f"/v1/tickets?priority=p1&limit=2&cursor={first['next_cursor']}", headers=AGENT
    ).json()
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert second["next_cursor"] is None
    assigned = api.client.get("/v1/tickets?assignee=agent-lucia&level=2", headers=AGENT).json()
    assert [t["case_number"] for t in assigned["items"]] == [xml["case_number"]]
    since = (T0 + timedelta(minutes=3)).isoformat().replace("+00:00", "Z")
    recent = api.client.get("/v1/tickets", params={"updated_since": since}, headers=AGENT)
    assert [t["case_number"] for t in recent.json()["items"]] == [xml["case_number"]]
    too_big = api.client.get("/v1/tickets?limit=51", headers=AGENT)
    assert is_problem(too_big, 422) and too_big.json()["code"] == "page-too-large"


def test_paging_to_the_end_never_misses_a_change_made_meanwhile(api: Api) -> None:
    first, second = api.open(), api.open()
    page = api.client.get("/v1/tickets?limit=1", headers=AGENT).json()
    assert [t["id"] for t in page["items"]] == [first["id"]]
    api.do(first, "notes", {"body": "cambió mientras el cliente paginaba"})
    rest = list_all_from(api, page["next_cursor"])
    # the changed ticket comes again, after the one not yet read: a change feed
    assert [t["id"] for t in rest] == [second["id"], first["id"]]


def test_updated_since_compares_instants_whatever_the_offset(api: Api) -> None:
    api.open()  # updated at 15:00Z
    later = api.client.get(
        "/v1/tickets", params={"updated_since": "2026-11-24T10:30:00-05:00"}, headers=AGENT
    ).json()
    earlier = api.client.get(
        "/v1/tickets", params={"updated_since": "2026-11-24T09:30:00-05:00"}, headers=AGENT
    ).json()
    assert (len(later["items"]), len(earlier["items"])) == (0, 1)


def test_an_idempotency_key_is_scoped_to_the_tenant_and_caller(api: Api) -> None:
    body = {
        "policy": "btw",
        "title": "Error XML",
        "description": "x",
        "ticket_type": "soporte",
        "subcategory": "error-xml",
        "intake": api_intake(),
    }
    mine = api.client.post(
        "/v1/tickets", json=body, headers={**CUSTOMER, "Idempotency-Key": "same-key"}
    ).json()
    theirs = api.client.post(
        "/v1/tickets", json=body, headers={**OTHER_CUSTOMER, "Idempotency-Key": "same-key"}
    )
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine["id"] and theirs.json()["tenant"] == "globex"


def test_the_history_is_oldest_first_and_customers_never_see_internal_notes(api: Api) -> None:
    ticket = api.open()
    api.do(ticket, "notes", {"body": "Cliente molesto; revisar contrato"})
    api.do(ticket, "replies", {"body": "Revisión interna", "public": False})
    api.do(ticket, "replies", {"body": "Estamos revisando", "public": True})
    staff_view = api.client.get(f"/v1/tickets/{ticket['id']}/events", headers=AGENT).json()
    customer_view = api.client.get(f"/v1/tickets/{ticket['id']}/events", headers=CUSTOMER).json()
    assert [e["version"] for e in staff_view] == [1, 2, 3, 4]
    assert [e["type"] for e in customer_view] == ["ticket.opened", "ticket.agent_replied"]
    assert customer_view[1]["data"]["body"] == "Estamos revisando"
    assert staff_view[1]["actor"] == {"kind": "agent", "id": "agent-lucia", "name": "Lucía Gómez"}
    assert staff_view[0]["id"] == f"{ticket['id']}:1"


def test_a_customer_never_sees_another_tenants_ticket(api: Api) -> None:
    ticket = api.open()
    assert is_problem(api.client.get(f"/v1/tickets/{ticket['id']}", headers=OTHER_CUSTOMER), 404)
    assert api.client.get("/v1/tickets", headers=OTHER_CUSTOMER).json()["items"] == []
    refused = api.do(ticket, "replies", {"body": "hola"}, OTHER_CUSTOMER)
    assert is_problem(refused, 404)


def test_the_lifecycle_through_the_api_ends_in_a_closed_ticket_that_points_to_a_follow_up(
    api: Api,
) -> None:
    ticket = api.open(
        policy="bitam",
        ticket_type="soporte",
        priority="alta",
        subcategory=None,
        intake={},
        product="ebavel",
        product_version="6.6",
    )
    assert api.do(ticket, "assign", {"agent_id": "agent-lucia", "agent_name": "Lucía"}).is_success
    assert api.do(ticket, "start").json()["state"] == "in_progress"
    assert api.do(ticket, "await-customer", {"request": "Envíe la captura"}).is_success
    assert (
        api.do(ticket, "contact-attempts", {"channel": "phone"}).json()[
            "unanswered_contact_attempts"
        ]
        == 1
    )
    assert api.do(ticket, "replies", {"body": "Adjunto"}, CUSTOMER).json()["state"] == "in_progress"
    resolved = api.do(ticket, "resolve", {"resolution": "workaround", "summary": "Use el alterno"})
    # 000: a resolved ticket stays open 15 business days for comments
    assert resolved.json()["reopen_until"].startswith("2026-12-15T15:00")
    assert api.do(ticket, "reopen", {"reason": "No funcionó"}, CUSTOMER).json()["state"] == (
        "in_progress"
    )
    api.do(ticket, "resolve", {"resolution": "solution", "summary": "Corregido"})
    closed = api.do(ticket, "close", {"closure": "confirmed"}, CUSTOMER)
    assert closed.json()["state"] == "closed"
    after = api.do(ticket, "replies", {"body": "Otra duda"}, CUSTOMER)
    assert is_problem(after, 409) and "seguimiento" in after.json()["detail"]
    english = api.client.post(
        f"/v1/tickets/{ticket['id']}/replies",
        json={"body": "x"},
        headers={**CUSTOMER, "Accept-Language": "en"},
    )
    assert "follow-up" in english.json()["detail"]
    follow_up = api.open(
        policy="bitam",
        ticket_type="soporte",
        priority="alta",
        subcategory=None,
        intake={},
        product="ebavel",
        product_version="6.6",
        follow_up_of=ticket["id"],
    )
    assert follow_up["follow_up_of"] == ticket["id"]


def test_escalation_needs_an_etr_and_a_higher_level_within_the_policy(api: Api) -> None:
    ticket = api.open(
        policy="proditma", ticket_type="incidente", priority="alta", subcategory=None, intake={}
    )
    etr = (T0 + timedelta(hours=4)).isoformat()
    no_etr = api.do(ticket, "escalate", {"to_level": 2, "reason": "x"}, SERVICE)
    assert is_problem(no_etr, 422) and no_etr.json()["errors"][0]["field"] == "etr"
    assert (
        api.do(
            ticket, "escalate", {"to_level": 3, "reason": "Crítico", "etr": etr}, SERVICE
        ).json()["level"]
        == 3
    )
    beyond = api.do(ticket, "escalate", {"to_level": 4, "reason": "x", "etr": etr}, SERVICE)
    assert is_problem(beyond, 422) and beyond.json()["code"] == "bad-level"
    # the level moves only by escalation, never as a side effect of an assignment
    sideways = api.do(ticket, "assign", {"agent_id": "a", "agent_name": "b", "support_level": 1})
    assert is_problem(sideways, 422) and sideways.json()["code"] == "level-needs-escalation"


def test_roles_are_enforced_per_command(api: Api) -> None:
    ticket = api.open()
    assert is_problem(api.do(ticket, "assign", {"agent_id": "a", "agent_name": "b"}, CUSTOMER), 403)
    assert is_problem(api.do(ticket, "feature-review", {"viable": True}, AGENT), 403)
    assert is_problem(api.client.get("/v1/tickets"), 401)
    assert is_problem(api.client.get("/v1/tickets", headers={"Authorization": "Bearer nope"}), 401)


def test_a_feature_request_gets_its_committee_decision(api: Api) -> None:
    ticket = api.open(
        policy="bitam",
        ticket_type="nuevo-requerimiento",
        priority="baja",
        subcategory=None,
        intake={},
        product="ebavel",
        product_version="6.6",
    )
    decided = api.do(
        ticket,
        "feature-review",
        {"viable": True, "cost_note": "Costo adicional", "target_release": "6.7"},
        SUPERVISOR,
    )
    assert decided.json()["feature_review"]["viable"] is True


def test_reclassifying_checks_the_policy_and_keeps_the_reason(api: Api) -> None:
    ticket = api.open(subcategory="error-xml")
    raised = api.do(
        ticket, "priority", {"subcategory": "error-firma-digital", "reason": "Afecta la firma"}
    )
    assert raised.json()["priority"] == "p1"
    wrong = api.do(ticket, "priority", {"priority": "p3", "reason": "x"})
    assert is_problem(wrong, 422) and wrong.json()["code"] == "subcategory-priority"


def test_policies_tell_clients_targets_fields_and_local_hours(api: Api) -> None:
    bitam = api.client.get("/v1/policies/bitam", headers=CUSTOMER).json()
    assert bitam["priorities"]["urgente"]["targets"]["first_response"]["within"] == "1h"
    hours = {row["country"]: row["hours"]["mon"] for row in bitam["support_hours"]}
    assert hours["Colombia"] == ["09:30-19:00"] and hours["Argentina"] == ["11:30-21:00"]
    btw = api.client.get("/v1/policies/btw", headers=CUSTOMER).json()
    soporte = next(t for t in btw["ticket_types"] if t["id"] == "soporte")
    assert [f["id"] for f in soporte["required_fields"]][:2] == ["nit", "nombre-contacto"]
    assert len(api.client.get("/v1/policies", headers=AGENT).json()) == 5
    assert is_problem(api.client.get("/v1/policies/nope", headers=AGENT), 404)


def test_health_and_readiness(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json()["event_store"] == "ok"
    schema = api.client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert "/v1/tickets/{ticket_ref}/escalate" in schema["paths"]


# -- helpers ---------------------------------------------------------------------------------


def api_intake() -> dict[str, Any]:
    from conftest import BTW_INTAKE

    return dict(BTW_INTAKE)


def list_all(api: Api) -> list[dict[str, Any]]:
    return list_all_from(api, None)


def list_all_from(api: Api, cursor: str | None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/v1/tickets", params=params, headers=AGENT).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_each_event_keeps_the_trace_context_of_the_request_that_caused_it(api: Api) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {**CUSTOMER, "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    response = api.client.post(
        "/v1/tickets",
        json={
            "policy": "btw",
            "title": "Error XML",
            "description": "x",
            "ticket_type": "soporte",
            "subcategory": "error-xml",
            "intake": api_intake(),
        },
        headers=headers,
    )
    (opened,) = api.desk.history(UUID(response.json()["id"]))
    traceparent = opened.trace["traceparent"]  # type: ignore[attr-defined]
    # same trace, a new span (the server's), so later hops continue this request's trace
    assert traceparent.split("-")[1] == trace_id
    assert traceparent.split("-")[2] != "00f067aa0ba902b7"
