"""Searching the ticket list as an integrator does: words, dates, requester, order, paging.

Runs on both stores (the ``api`` fixture): the embedded SQLite store answers like PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conftest import AGENT, CUSTOMER, OTHER_CUSTOMER, Api, is_problem


def cases(api: Api, query: str, headers: dict[str, str] | None = None) -> list[str]:
    response = api.client.get(f"/v1/tickets?{query}", headers=headers or AGENT)
    assert response.status_code == 200, response.text
    return [t["case_number"] for t in response.json()["items"]]


def test_searching_facturacion_finds_facturación_and_facturas(api: Api) -> None:
    accented = api.open(title="Problema de facturación", description="No sale nada.")
    plural = api.open(title="Consulta", description="Las facturas no llegan al cliente.")
    other = api.open(title="Portal lento", description="Tarda en cargar.")
    found = cases(api, "q=facturacion")
    assert accented["case_number"] in found and plural["case_number"] in found
    assert other["case_number"] not in found
    # English stems too, and a public reply counts as the ticket's text.
    api.do(other, "replies", {"body": "We are fixing the invoices export."})
    assert cases(api, "q=invoice") == [other["case_number"]]


def test_internal_notes_never_match_a_customers_search(api: Api) -> None:
    ticket = api.open(title="Consulta", description="Una duda.")
    assert api.do(ticket, "notes", {"body": "Cliente moroso, escalar"}).status_code == 200
    internal = {"body": "Revisar contrato moroso", "public": False}
    assert api.do(ticket, "replies", internal).status_code == 200
    assert cases(api, "q=moroso", CUSTOMER) == []
    assert cases(api, "q=moroso", AGENT) == []  # internal text is never indexed at all


def test_an_unknown_parameter_is_a_400_naming_it(api: Api) -> None:
    response = api.client.get("/v1/tickets?stauts=open", headers={**AGENT, "Accept-Language": "en"})
    assert is_problem(response, 400)
    body = response.json()
    assert body["code"] == "unknown-parameter"
    assert "'stauts'" in body["detail"] and "status" in body["detail"]
    assert body["errors"][0]["field"] == "stauts"
    spanish = api.client.get("/v1/tickets/BTW-000001/events?x=1", headers=AGENT).json()
    assert spanish["code"] == "unknown-parameter" and "Parámetro" in spanish["detail"]
    # breached is a declared filter (test_breached_filter.py): not being a boolean is a 422.
    assert is_problem(api.client.get("/v1/tickets?breached=often", headers=AGENT), 422)


def test_paging_to_the_end_never_misses_a_change_while_tickets_change(api: Api) -> None:
    tickets = [api.open(title=f"Caso {i}") for i in range(5)]
    seen: dict[str, int] = {}
    page = api.client.get("/v1/tickets?limit=2", headers=AGENT).json()
    changed = False
    while True:
        seen |= {t["id"]: t["version"] for t in page["items"]}
        if not changed:  # tickets already read change while the client pages on
            for t in tickets[:2]:
                api.do(t, "notes", {"body": "Revisado"})
            changed = True
        if page["next_cursor"] is None:
            break
        page = api.client.get(
            f"/v1/tickets?limit=2&cursor={page['next_cursor']}", headers=AGENT
        ).json()
    assert set(seen) == {t["id"] for t in tickets}
    assert all(seen[t["id"]] == 2 for t in tickets[:2])  # their changes were seen


def test_date_ranges_choose_tickets_by_when_they_were_opened(api: Api) -> None:
    first = api.open(title="Primero")
    api.clock.advance(timedelta(hours=2))
    second = api.open(title="Segundo")
    middle = (api.clock.now() - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert cases(api, f"created_since={middle}") == [second["case_number"]]
    assert cases(api, f"created_before={middle}") == [first["case_number"]]
    naive = api.client.get("/v1/tickets?created_since=2026-11-24T10:00:00", headers=AGENT)
    assert is_problem(naive, 422)


def test_the_contact_filter_finds_one_requesters_tickets(api: Api) -> None:
    ana = api.open(title="De Ana")
    bob = api.open(OTHER_CUSTOMER, title="From Bob")
    assert cases(api, "contact=contact-ana") == [ana["case_number"]]
    assert cases(api, "contact=contact-bob") == [bob["case_number"]]
    assert cases(api, "contact=contact-bob", CUSTOMER) == []  # another tenant's requester


def test_sorts_page_by_keyset_without_losing_or_repeating_tickets(api: Api) -> None:
    opened: list[dict[str, Any]] = []
    for i, priority in enumerate(("p3", "p1", "p2", "p1")):
        api.clock.advance(timedelta(minutes=1))
        opened.append(api.open(title=f"Caso {i}", priority=priority, subcategory=None))
    numbers = [t["case_number"] for t in opened]
    assert cases(api, "sort=created") == numbers
    assert cases(api, "sort=-created") == numbers[::-1]
    by_priority = [
        (t["priority"], t["id"]) for t in sorted(opened, key=lambda t: (t["priority"], t["id"]))
    ]
    paged: list[tuple[str, str]] = []
    first = cursor = api.client.get("/v1/tickets?sort=priority&limit=1", headers=AGENT).json()
    while True:
        paged += [(t["priority"], t["id"]) for t in cursor["items"]]
        if cursor["next_cursor"] is None:
            break
        url = f"/v1/tickets?sort=priority&limit=1&cursor={cursor['next_cursor']}"
        cursor = api.client.get(url, headers=AGENT).json()
    assert paged == by_priority
    # A cursor belongs to its order.
    other = api.client.get(f"/v1/tickets?sort=created&cursor={first['next_cursor']}", headers=AGENT)
    assert is_problem(other, 400)
