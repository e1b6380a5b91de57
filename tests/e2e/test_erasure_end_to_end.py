"""End to end: a contact's erasure leaves no readable copy anywhere the system stores data,
and their tickets keep their history and SLA record (ADR 23).

A contact opens a BITAM ticket, gets a reply by mail, answers, and sends another request by
email with an attachment; sla-monitor projects the clocks and the notifier mails them. After an
admin's erasure, the raw storage is read — every row of ticket-api's event store and ticket
list, of sla-monitor's and the notifier's tables, every attachment file and every file of the
JetStream store — and none holds the contact's name, email, phone or a phrase they wrote.
Another contact's ticket is untouched, and the compliance figures are the same.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from e2e_system import MEXICO, System, running_system
from nats_server import NatsServer
from raw_storage import found_in, scan_files, scan_postgres

from servicekit.personal_data import ERASED

ADMIN = {"Authorization": "Bearer dev-admin"}
AGENT = {"Authorization": "Bearer dev-agent"}
SERVICE = {"Authorization": "Bearer dev-service"}
OTHER = {"Authorization": "Bearer dev-customer"}  # Ana Ruiz, another contact of acme
ZOILA = {
    "id": "zoila",
    "name": "Zoila Quintanilla",
    "email": "zoila.quintanilla@acme.example",
    "phone": "+573009871234",
}
PHRASE = "xylofrutazq ornitorrinco violeta"
NEEDLES = [ZOILA["name"], ZOILA["email"], ZOILA["phone"], PHRASE, "xylofrutazq"]
ANA_PHRASE = "anaquasar pingüino"
BITAM = {"policy": "bitam", "ticket_type": "soporte", "priority": "urgente",
         "product": "ebavel", "product_version": "6.6"}  # fmt: skip


@pytest.fixture
def system(
    nats_server: NatsServer, postgres_env: dict[str, str], tmp_path: Path
) -> Iterator[System]:
    start = datetime(2026, 11, 23, 9, tzinfo=MEXICO)
    with running_system(nats_server, postgres_env, tmp_path, notifier=True, start=start) as up:
        yield up


def sqlite_rows(path: Path, needles: list[str]) -> list[str]:
    """Every row of every table of ticket-api's SQLite store (events, ticket list, FTS)."""
    hits = []
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                blob = b"\x00".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
                hits.extend(f"{table}: {n}" for n in found_in(blob, needles))
    return sorted(set(hits))


def notified(system: System, events: int) -> None:
    """Wait until the notifier has handled ``events`` ticket events."""
    assert system.notifier is not None
    for consumer in system.notifier.app.state.background.consumers:  # type: ignore[attr-defined]
        if consumer.settings.durable == "notifier-tickets":
            system.notifier.portal.call(consumer.wait_handled, events)  # type: ignore[union-attr]


def everywhere(
    tmp_path: Path, postgres_env: dict[str, str], needles: list[str]
) -> dict[str, list[str]]:
    return {
        "ticket-api store": sqlite_rows(tmp_path / "tickets.sqlite3", needles),
        "sla-monitor and notifier": scan_postgres(postgres_env, needles),
        "attachments": scan_files(tmp_path / "attachments", needles),
        "JetStream store": scan_files(tmp_path / "nats-store", needles),
    }


def test_an_erased_contact_leaves_no_copy_and_the_sla_record_stays(
    system: System, postgres_env: dict[str, str], tmp_path: Path
) -> None:
    api, mail = system.ticket_api, system.mail
    assert mail is not None
    assert api.post("/v1/tenants/acme/contacts", json=ZOILA, headers=ADMIN).status_code == 201
    issued = api.post(
        "/v1/api-keys",
        json={"holder": {"kind": "customer", "id": "zoila", "tenant": "acme"}, "label": "z"},
        headers=ADMIN,
    ).json()
    zoila = {"Authorization": f"Bearer {issued['key']}"}
    opened = api.post(
        "/v1/tickets",
        headers=zoila,
        json={**BITAM, "title": f"Falla {PHRASE}", "description": f"{ZOILA['phone']} {PHRASE}"},
    )
    assert opened.status_code == 201, opened.text
    ticket = opened.json()
    mail.wait_until(lambda m: ZOILA["email"] in m["To"] and ticket["case_number"] in m["Subject"])
    assign = {"agent_id": "agent-lucia", "agent_name": "Lucía Gómez"}
    assert api.post(f"/v1/tickets/{ticket['id']}/assign", json=assign, headers=AGENT).is_success
    reply = {"body": f"Hola {ZOILA['name']}, revisamos.", "public": True}
    assert api.post(f"/v1/tickets/{ticket['id']}/replies", json=reply, headers=AGENT).is_success
    answer = {"body": f"Sigue igual: {PHRASE}"}
    assert api.post(f"/v1/tickets/{ticket['id']}/replies", json=answer, headers=zoila).is_success
    other = api.post(
        "/v1/tickets", headers=OTHER, json={**BITAM, "title": ANA_PHRASE, "description": "x"}
    ).json()
    system.projected(5)
    notified(system, 5)
    assert everywhere(tmp_path, postgres_env, NEEDLES)["sla-monitor and notifier"]  # copies made

    def figures() -> Any:
        return system.sla_monitor.get("/v1/sla/compliance", headers=AGENT).json()["items"]

    def clocks() -> Any:
        answer = system.sla_monitor.get(f"/v1/sla/tickets/{ticket['id']}", headers=AGENT)
        return answer.json() if answer.is_success else answer.status_code

    before = (figures(), clocks(), system.history(ticket["id"]))

    erased = api.post(
        "/v1/tenants/acme/contacts/zoila/erasure",
        json={"reason": "Solicitud de supresión 2026-114"},
        headers=ADMIN,
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["tickets_marked"] == [ticket["case_number"]]
    system.projected(6)
    notified(system, 6)

    assert everywhere(tmp_path, postgres_env, NEEDLES) == {
        "ticket-api store": [],
        "sla-monitor and notifier": [],
        "attachments": [],
        "JetStream store": [],
    }
    # another contact's data is untouched (and the scans do find what is there)
    assert everywhere(tmp_path, postgres_env, [ANA_PHRASE])["sla-monitor and notifier"]
    shown = api.get(f"/v1/tickets/{other['id']}", headers=AGENT).json()
    assert shown["title"] == ANA_PHRASE

    after = (figures(), clocks(), system.history(ticket["id"]))
    assert after[0] == before[0]  # compliance figures unchanged
    # the ticket's clocks and outcomes unchanged; its name erased, its version one more
    assert after[1]["title"] == ERASED and after[1]["ticket_version"] == 5
    unchanged = {"title", "ticket_version"}
    assert {k: v for k, v in after[1].items() if k not in unchanged} == {
        k: v for k, v in before[1].items() if k not in unchanged
    }
    assert [(e["type"], e["time"]) for e in after[2][:-1]] == [
        (e["type"], e["time"]) for e in before[2]
    ]
    assert after[2][-1]["type"] == "ticket.personal_data_erased"
    assert api.get(f"/v1/tickets/{ticket['id']}", headers=AGENT).json()["title"] == ERASED
    again = api.post(
        "/v1/tenants/acme/contacts/zoila/erasure", json={"reason": "otra vez"}, headers=ADMIN
    ).json()
    assert again["already_erased"] and again["keys_destroyed"] == 0
