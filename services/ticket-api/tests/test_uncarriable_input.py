"""Nothing is stored that the pipeline cannot carry, whichever door the input came in by.

A NUL in one stored event once stopped every tenant's events at the relay and made the ticket
list answer 500 (PostgreSQL refuses NUL). Each entry point — the REST open and commands, the
directory, email intake — is swept with text no store or channel can carry, and with odd but
valid Unicode that must pass untouched; afterwards every stored ticket event is checked to be
publishable exactly as the relay would publish it.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest

from conftest import ADMIN, AGENT, Api, is_problem
from ticket_api.domain.ticket import Ticket
from ticket_api.wire import wire_event

UNCARRIABLE = {
    "nul": "Error\x00500",
    "bell": "Error\x07500",
    "escape": "Error \x1b[31m500",
    "delete": "Error\x7f500",
    "lone-surrogate": "Error \ud800 500",
    "lone-low-surrogate": "Error \udfff 500",
}
ODD_BUT_VALID = {
    "right-to-left-override": "factura \u202eexe.pdf",
    "zero-width-joiner": "👩\u200d💻 soporte",
    "combining-accent": "Sesio\u0301n",
    "cjk": "支持请求",
    "tabs-and-newlines": "línea 1\n\tlínea 2\r\n",
    "noncharacter": "fin \ufffe",
}


def assert_everything_stored_is_publishable(api: Api) -> int:
    """Every ticket event in the store passes the relay's own check; returns how many."""
    desk = api.desk
    checked = 0
    for notification in desk.recorder.select_notifications(1, 100_000):
        event = desk.mapper.to_domain_event(notification)
        if isinstance(event, Ticket.Event):
            ticket = desk.ticket(UUID(str(event.originator_id)))
            wire_event(event, tenant=ticket.tenant, policy=ticket.policy)
            checked += 1
    listing = api.client.get("/v1/tickets", headers=AGENT)
    assert listing.status_code == 200, listing.text  # the read model stored it all too
    return checked


def send(api: Api, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    """POST as a hostile client would: JSON with ``\\ud800`` escapes (what ``json.dumps``
    writes for a lone surrogate), which a UTF-8 encoder on our side would never produce."""
    return api.client.post(
        path, content=json.dumps(body), headers={**headers, "Content-Type": "application/json"}
    )


def worked_ticket(api: Api) -> dict[str, Any]:
    ticket = api.open()
    for command, body in (
        ("assign", {"agent_id": "agent-lucia", "agent_name": "Lucía Gómez"}),
        ("start", {}),
    ):
        response = api.do(ticket, command, body)
        assert response.status_code == 200, response.text
    return api.client.get(f"/v1/tickets/{ticket['id']}", headers=AGENT).json()  # type: ignore[no-any-return]


COMMANDS = {
    "replies": lambda text: {"body": text},
    "notes": lambda text: {"body": text},
    "await-customer": lambda text: {"request": text},
    "contact-attempts": lambda text: {"channel": "phone", "note": text},
    "resolve": lambda text: {"resolution": "solution", "summary": text},
}


@pytest.mark.parametrize("kind", sorted(UNCARRIABLE))
def test_text_no_store_can_carry_is_refused_at_every_entry_point_and_nothing_is_stored(
    api: Api, kind: str
) -> None:
    text = UNCARRIABLE[kind]
    before = api.desk.recorder.max_notification_id() or 0
    opened = send(
        api,
        "/v1/tickets",
        {
            "policy": "btw",
            "title": text,
            "description": "Desde las 9:00 la DIAN responde 500.",
            "ticket_type": "soporte",
            "subcategory": "error-500-dian",
            "intake": {
                "nit": "900123456-7",
                "nombre-contacto": "Ana Ruiz",
                "correo-contacto": "ana@acme.example",
                "telefono-contacto": "+57 300 000 0000",
                # a free-form key nobody types as Text: it must be checked all the same
                "evidencia": {"name": "error.png", "media_type": "image/png", text: "x"},
            },
        },
        {"Authorization": "Bearer dev-customer", "Accept-Language": "en"},
    )
    assert is_problem(opened, 422), opened.text
    assert (api.desk.recorder.max_notification_id() or 0) == before, "something was stored"

    ticket = worked_ticket(api)
    for command, body in COMMANDS.items():
        answer = send(api, f"/v1/tickets/{ticket['id']}/{command}", body(text), AGENT)
        assert is_problem(answer, 422), (command, answer.text)
    unchanged = api.client.get(f"/v1/tickets/{ticket['id']}", headers=AGENT).json()
    assert unchanged["version"] == ticket["version"]

    contact = send(
        api,
        "/v1/tenants/acme/contacts",
        {"id": f"c-{kind}", "name": text, "email": f"{kind}@acme.example"},
        ADMIN,
    )
    assert is_problem(contact, 422), contact.text

    raw = text.encode("utf-8", "surrogatepass")  # a lone surrogate: bytes no decoder accepts
    mail = (
        b"From: Ana Ruiz <ana@acme.example>\r\nTo: soporte@btw.com.co\r\n"
        b"Message-ID: <" + kind.encode() + b"@acme.example>\r\n"
        b"Subject: " + raw + b"\r\n\r\n" + raw + b"\r\n"
    )
    answer = api.client.post(
        "/v1/intake/email",
        content=mail,
        headers={"Authorization": "Bearer dev-service", "Content-Type": "message/rfc822"},
    )
    assert answer.status_code < 500, answer.text
    assert assert_everything_stored_is_publishable(api) >= 3


@pytest.mark.parametrize("kind", sorted(ODD_BUT_VALID))
def test_odd_but_valid_unicode_is_kept_as_written(api: Api, kind: str) -> None:
    text = ODD_BUT_VALID[kind]
    ticket = worked_ticket(api)
    answer = api.do(ticket, "notes", {"body": text})
    assert answer.status_code == 200, answer.text
    history = api.client.get(f"/v1/tickets/{ticket['id']}/events", headers=AGENT).json()
    assert history[-1]["data"]["body"] == text.strip()
    assert assert_everything_stored_is_publishable(api) >= 4


def test_a_value_too_large_for_the_wire_is_refused_before_it_is_stored(api: Api) -> None:
    ticket = worked_ticket(api)
    version = ticket["version"]
    # 50 notes of the largest size each pass on their own; the message size is per event, so
    # an oversized single value is what the wire check stops: the request limit comes first.
    huge = api.do(ticket, "notes", {"body": "x" * 2_000_000})
    assert huge.status_code in (413, 422), huge.text
    assert is_problem(huge)
    unchanged = api.client.get(f"/v1/tickets/{ticket['id']}", headers=AGENT).json()
    assert unchanged["version"] == version
