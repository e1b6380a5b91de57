"""The receipt endpoint against a real PostgreSQL: JSON and text, Spanish and English, by case
number, and only for the caller's tenants.

The story is the pure test's (``test_sla_receipt.py``): a BITAM ticket opened Friday 13
November 2026 at 17:00, before the Día de la Revolución, reclassified from alta to media on
Tuesday, paused while Lucía waits for the customer's XML, resolved on Wednesday at 12:00 after
5 h 30 min of office time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from introspection import dev_introspection
from test_sla_api import (
    AGENT,
    AGENT_ACTOR,
    CUSTOMER,
    CUSTOMER_ACTOR,
    Story,
    run,
    seed,
    settings_for,
)
from test_sla_receipt import mx, opened

from contracts.events import ticket as te
from servicekit.clock import ManualClock
from sla_monitor.main import create_app

RESOLUTION_USED = 5.5 * 3600


@dataclass
class Desk:
    client: TestClient
    ticket: UUID  # BIT-000007, tenant acme
    other: UUID  # BIT-000008, tenant globex

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        response = self.client.get(path, headers=headers or AGENT, params=params)
        assert response.status_code == 200, response.text
        return response


@pytest.fixture
def desk(postgres_env: dict[str, str]) -> Iterator[Desk]:
    ticket, other = uuid4(), uuid4()
    story: Story = [
        (opened("alta"), mx(13, 17)),
        (
            te.Classified(
                actor=AGENT_ACTOR,
                ticket_type="soporte",
                priority="media",
                previous_ticket_type="soporte",
                previous_priority="alta",
                reason="Hay una solución alterna",
            ),
            mx(17, 9),
        ),
        (te.AgentReplied(actor=AGENT_ACTOR, body="Revisando", public=True), mx(17, 9, 15)),
        (te.AwaitingCustomer(actor=AGENT_ACTOR, request="Envíe el XML de la factura"), mx(17, 11)),
        (te.CustomerReplied(actor=CUSTOMER_ACTOR, body="Adjunto el XML"), mx(18, 10)),
        (
            te.Resolved(
                actor=AGENT_ACTOR, resolution=te.ResolutionKind.SOLUTION, summary="Timbrado"
            ),
            mx(18, 12),
        ),
    ]
    run(seed(postgres_env, "acme", ticket, story))
    globex = opened("alta").model_copy(update={"case_number": "BIT-000008"})
    run(seed(postgres_env, "globex", other, [(globex, mx(13, 17))]))
    clock = ManualClock(mx(20, 12))
    app = create_app(settings_for(postgres_env), clock=clock, principals=dev_introspection())
    with TestClient(app) as client:
        yield Desk(client, ticket, other)


def resolution(body: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in body["clocks"] if c["metric"] == "resolution" and c["cycle"] == 1)


def test_the_json_receipt_by_case_number_explains_every_stretch_in_spanish(desk: Desk) -> None:
    response = desk.get("/v1/sla/tickets/BIT-000007/receipt")
    assert response.headers["content-language"] == "es"
    body = response.json()
    assert (body["ticket_id"], body["case_number"], body["time_zone"]) == (
        str(desk.ticket),
        "BIT-000007",
        "America/Mexico_City",
    )
    clock = resolution(body)
    assert clock["used_seconds"] == clock["total_seconds"] == RESOLUTION_USED
    assert clock["name"] == "Solución" and clock["status_text"] == "cumplido"
    counted = [line for line in clock["lines"] if line["kind"] == "counted"]
    assert sum(line["business_seconds"] for line in counted) == RESOLUTION_USED
    assert counted[0]["start"] == {
        "utc": "2026-11-13T23:00:00Z",
        "local": "2026-11-13T17:00:00-06:00",
    }
    skipped = {line["why"]: line for line in clock["lines"] if line["kind"] == "skipped"}
    assert skipped["holiday"]["text"] == "feriado: Día de la Revolución"
    assert skipped["holiday"]["name"] == "Día de la Revolución"
    assert skipped["weekend"]["text"] == "fin de semana"
    pause = skipped["pause"]
    assert (pause["state"], pause["by"]["id"], pause["because"]) == (
        "awaiting_customer",
        "agent-lucia",
        "Envíe el XML de la factura",
    )
    retarget = next(line for line in clock["lines"] if line["kind"] == "retarget")
    assert (retarget["from_priority"], retarget["to_priority"], retarget["kept_seconds"]) == (
        "alta",
        "media",
        5400,
    )
    assert desk.get(f"/v1/sla/tickets/{desk.ticket}/receipt").json() == body  # by id: the same


def test_english_is_given_on_lang_en_or_accept_language_en(desk: Desk) -> None:
    by_query = desk.get("/v1/sla/tickets/BIT-000007/receipt", lang="en")
    by_header = desk.get(
        "/v1/sla/tickets/BIT-000007/receipt", {**AGENT, "Accept-Language": "en-US,en;q=0.9"}
    )
    assert by_query.headers["content-language"] == "en"
    assert by_query.json() == by_header.json()
    clock = resolution(by_query.json())
    assert clock["name"] == "Resolution"
    texts = {line["text"] for line in clock["lines"]}
    assert {"counted", "weekend", "holiday: Día de la Revolución"} <= texts


def test_the_text_receipt_is_a_table_for_a_mail_or_a_dispute(desk: Desk) -> None:
    spanish = desk.get("/v1/sla/tickets/BIT-000007/receipt", {**AGENT, "Accept": "text/plain"})
    assert spanish.headers["content-type"].startswith("text/plain")
    text = spanish.text
    assert text.startswith("Recibo de SLA · BIT-000007 · La factura no timbra\n")
    assert (
        "  2026-11-16 lun 00:00:00  2026-11-17 mar 00:00:00  2026-11-16 06:00:00  "
        "2026-11-17 06:00:00          —  feriado: Día de la Revolución\n"
    ) in text
    assert "esperando al cliente; lo pidió agent-lucia: «Envíe el XML de la factura»" in text
    assert "  total contado 5:30:00 = tiempo usado 5:30:00\n" in text

    english = desk.get("/v1/sla/tickets/bit-000007/receipt", format="text", lang="en").text
    assert english.startswith("SLA receipt · BIT-000007")
    assert "  total counted 5:30:00 = time used 5:30:00\n" in english
    assert "↳ priority change alta → media: target 2:00:00 → 24:00:00; kept 1:30:00" in english


def test_another_tenants_receipt_is_a_404_as_its_ticket_is(desk: Desk) -> None:
    assert desk.get("/v1/sla/tickets/BIT-000007/receipt", CUSTOMER).status_code == 200
    for ref in ("BIT-000008", str(desk.other), "BIT-000099", str(uuid4())):
        response = desk.client.get(f"/v1/sla/tickets/{ref}/receipt", headers=CUSTOMER)
        assert response.status_code == 404, ref
        assert response.json()["code"] == "ticket-not-found"
    assert desk.get("/v1/sla/tickets/BIT-000008/receipt").status_code == 200  # its agent sees it
