"""Crypto-shredding (ADR 23): personal data is stored sealed, an admin's erasure destroys it
everywhere ticket-api keeps it, and the ticket's history and figures stay.

The proofs read the raw storage (every row of every table, every attachment file), never the
API.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from raw_storage import found_in, scan_files, scan_postgres
from test_email_intake import deliver, mail

from conftest import (
    ADMIN,
    AGENT,
    CUSTOMER,
    OTHER_CUSTOMER,
    POLICIES,
    SERVICE,
    SUPERVISOR,
    Api,
    running_api,
)
from contracts.policy import load_policies
from servicekit.personal_data import ERASED
from ticket_api.application import TicketDesk
from ticket_api.keyring import LocalMasterKey, MasterKeyMismatch

ZOILA = {
    "id": "zoila",
    "name": "Zoila Quintanilla",
    "email": "zoila.quintanilla@acme.example",
    "phone": "+573009871234",
}
PHRASE = "xylofrutazq ornitorrinco violeta"
ATTACHMENT = b"%PDF-1.4 zoila-attachment-content-4471"
BOB_PHRASE = "qwertzuiop bobquasar"
NEEDLES = [ZOILA["name"], ZOILA["email"], ZOILA["phone"], PHRASE, "xylofrutazq"]


def register_zoila(api: Api) -> dict[str, str]:
    c = api.client
    assert c.post("/v1/tenants/acme/contacts", json=ZOILA, headers=ADMIN).status_code == 201
    issued = c.post(
        "/v1/api-keys",
        json={"holder": {"kind": "customer", "id": "zoila", "tenant": "acme"}, "label": "z"},
        headers=ADMIN,
    )
    assert issued.status_code == 201, issued.text
    return {"Authorization": f"Bearer {issued.json()['key']}"}


def zoilas_tickets(api: Api) -> list[dict[str, Any]]:
    """One ticket by the portal (with a reply each way), one by email with an attachment."""
    zoila = register_zoila(api)
    portal = api.open(
        zoila,
        title=f"Falla {PHRASE}",
        description=f"Escribe {ZOILA['name']} ({ZOILA['phone']}): {PHRASE}",
        intake={"nit": "900123456-7", "nombre-contacto": ZOILA["name"],
                "correo-contacto": ZOILA["email"], "telefono-contacto": ZOILA["phone"],
                "evidencia": {"name": "pantallazo.png", "media_type": "image/png"}},
    )  # fmt: skip
    assert api.do(portal, "replies", {"body": f"Hola {ZOILA['name']}", "public": True}).is_success
    reply = {"body": f"Sigue igual: {PHRASE}"}
    assert api.do(portal, "replies", reply, headers=zoila).is_success
    raw = mail(
        subject=f"Otra falla {PHRASE}",
        body=f"Adjunto evidencia. {ZOILA['name']}",
        sender=f"{ZOILA['name']} <{ZOILA['email']}>",
        attachments=(("evidencia.pdf", "application/pdf", ATTACHMENT),),
    )
    emailed = deliver(api, raw)
    assert emailed.status_code == 201, emailed.text
    return [
        portal,
        api.client.get(f"/v1/tickets/{emailed.json()['ticket_id']}", headers=AGENT).json(),
    ]


def erase(api: Api, headers: dict[str, str] = ADMIN, contact: str = "zoila") -> Any:
    return api.client.post(
        f"/v1/tenants/acme/contacts/{contact}/erasure",
        json={"reason": "Solicitud de supresión 2026-114"},
        headers=headers,
    )


def sqlite_rows(path: Path, needles: list[str]) -> list[str]:
    """Every row of every table of the SQLite event store (FTS shadow tables included)."""
    hits = []
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                blob = b"\x00".join(
                    bytes(v) if isinstance(v, bytes) else str(v).encode() for v in row
                )
                hits.extend(f"{table}: {n}" for n in found_in(blob, needles))
    return sorted(set(hits))


def test_personal_fields_are_sealed_in_the_event_store_and_read_back_plain(api: Api) -> None:
    portal, _ = zoilas_tickets(api)
    shown = api.client.get(f"/v1/tickets/{portal['id']}", headers=AGENT).json()
    assert shown["contact"]["email"] == ZOILA["email"] and PHRASE in shown["description"]
    history = api.client.get(f"/v1/tickets/{portal['id']}/events", headers=AGENT).json()
    assert any(PHRASE in str(e["data"].get("body")) for e in history)
    recorder: Any = api.desk.recorder
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT state FROM {recorder.events_table_name}")
        states = [bytes(row["state"]) for row in cursor.fetchall()]
    assert states and not [n for s in states for n in found_in(s, NEEDLES)]


def test_an_admin_erases_a_contact_and_no_copy_is_left_in_ticket_api(
    postgres_api: Api, postgres_env: dict[str, str], tmp_path: Path
) -> None:
    api = postgres_api
    portal, emailed = zoilas_tickets(api)
    bitam = {"policy": "bitam", "ticket_type": "soporte", "priority": "urgente", "intake": {},
             "product": "ebavel", "product_version": "6.6", "subcategory": None}  # fmt: skip
    bob = api.open(OTHER_CUSTOMER, title=f"Otro {BOB_PHRASE}", description=BOB_PHRASE, **bitam)
    assert scan_files(tmp_path / "attachments", ["zoila-attachment-content-4471"])
    before = api.client.get(f"/v1/tickets/{portal['id']}/events", headers=AGENT).json()

    answer = erase(api)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["already_erased"] is False and report["keys_destroyed"] == 3
    assert sorted(report["tickets_marked"]) == sorted(
        [portal["case_number"], emailed["case_number"]]
    )
    assert report["attachments_deleted"] == 1

    assert scan_postgres(postgres_env, NEEDLES) == []
    assert scan_files(tmp_path / "attachments", ["zoila-attachment-content-4471"]) == []
    # another contact's data is untouched (and the scan does find what is there)
    assert scan_postgres(postgres_env, [BOB_PHRASE]) != []
    theirs = api.client.get(f"/v1/tickets/{bob['id']}", headers=AGENT).json()
    assert theirs["description"] == BOB_PHRASE and theirs["contact"]["name"] == "Bob Lee"

    # the history stays: same events, times and actors' roles, then the erasure's record
    after = api.client.get(f"/v1/tickets/{portal['id']}/events", headers=AGENT).json()
    assert [(e["type"], e["time"]) for e in after[:-1]] == [(e["type"], e["time"]) for e in before]
    assert after[-1]["type"] == "ticket.personal_data_erased"
    assert after[-1]["actor"]["kind"] == "admin"
    shown = api.client.get(f"/v1/tickets/{portal['id']}", headers=AGENT).json()
    assert shown["title"] == ERASED and shown["contact"]["name"] == ERASED
    assert shown["state"] == portal["state"] and shown["case_number"] == portal["case_number"]
    assert after[0]["data"]["contact"]["phone"] is None

    again = erase(api).json()  # idempotent
    assert again["already_erased"] is True and again["keys_destroyed"] == 0
    assert again["tickets_marked"] == [] and again["tickets_already_marked"] == 2
    assert len(api.client.get(f"/v1/tickets/{portal['id']}/events", headers=AGENT).json()) == len(
        after
    )


def test_only_admins_erase_and_only_services_read_keys(api: Api) -> None:
    portal, _ = zoilas_tickets(api)
    for who in (CUSTOMER, AGENT, SUPERVISOR, SERVICE):
        refused = erase(api, who)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert erase(api, contact="nobody").status_code == 404
    key = f"/v1/personal-data/keys/{portal['id']}"
    assert api.client.get(key, headers=AGENT).status_code == 403
    assert len(api.client.get(key, headers=SERVICE).json()["key"]) == 44
    assert erase(api).status_code == 200
    gone = api.client.get(key, headers={**SERVICE, "Accept-Language": "es"})
    assert gone.status_code == 410 and gone.json()["code"] == "personal-data-erased"
    assert "borrada" in gone.json()["detail"]


def test_a_wrong_or_lost_master_key_stops_the_store_at_start_up(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "e.db")}
    real = LocalMasterKey("q" * 43 + "=")
    TicketDesk(env, master_key=real).close()
    TicketDesk(env, master_key=LocalMasterKey("q" * 43 + "=")).close()  # the same key opens
    with pytest.raises(MasterKeyMismatch, match="lost or replaced"):
        TicketDesk(env, master_key=LocalMasterKey("r" * 43 + "="))
    with pytest.raises(MasterKeyMismatch, match="lost or replaced"):
        TicketDesk(env)  # none configured: the development key does not open it either
    with pytest.raises(MasterKeyMismatch, match="32 random bytes"):
        LocalMasterKey("too-short")


@pytest.fixture
def retaining_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """BTW's policy keeping personal data 30 days after closing."""
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    btw = policies / "004-btw.yaml"
    text = re.sub(r"^lifecycle:\n", "lifecycle:\n  personal_data_retention: 30d\n",
                  btw.read_text(), count=1, flags=re.M)  # fmt: skip
    btw.write_text(text)
    for api in running_api(request, tmp_path, "sqlite"):
        api.desk.policies["btw"] = load_policies(policies)["btw"]
        yield api


def test_retention_erases_closed_tickets_past_their_period_only(retaining_api: Api) -> None:
    from ticket_api.retention import RetentionJob

    api = retaining_api
    closed, kept_open = api.open(), api.open()
    for command, body in (
        ("assign", {"agent_id": "agent-lucia", "agent_name": "Lucía Gómez"}),
        ("start", {}),
        ("resolve", {"resolution": "solution", "summary": "Listo"}),
        ("close", {"closure": "confirmed"}),
    ):
        assert api.do(closed, command, body).is_success, command
    job = RetentionJob(api.client.app.state.erasure)  # type: ignore[attr-defined]
    api.clock.advance(timedelta(days=29))
    assert job.run_once() == 0
    api.clock.advance(timedelta(days=2))
    assert job.run_once() == 1 and job.run_once() == 0
    gone = api.client.get(f"/v1/tickets/{closed['id']}", headers=AGENT).json()
    assert gone["title"] == ERASED and gone["state"] == "closed"
    history = api.client.get(f"/v1/tickets/{closed['id']}/events", headers=AGENT).json()
    assert history[-1]["data"]["scope"] == "retention"
    still = api.client.get(f"/v1/tickets/{kept_open['id']}", headers=AGENT).json()
    assert still["title"] == kept_open["title"]  # open tickets keep theirs
    assert (
        api.client.get("/v1/tenants/acme/contacts/contact-ana", headers=ADMIN).json()["name"]
        == "Ana Ruiz"
    )  # retention erases tickets, not the contact
