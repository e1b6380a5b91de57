"""Each seed policy's intake rules, as a client opening tickets meets them (422 + the rule)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import AGENT, BTW_INTAKE, CUSTOMER, Api, is_problem

BITAM = {
    "policy": "bitam",
    "ticket_type": "soporte",
    "priority": "alta",
    "product": "ebavel",
    "product_version": "6.6",
}
ITAC_INTAKE = {
    "ambientes": "Producción: 10.0.0.5:8080",
    "versiones-componentes": "FOX 1.4.2.3",
    "contactos": "Ana Ruiz, +57 300",
}
ITAC = {
    "policy": "itac",
    "ticket_type": "incidente",
    "priority": "importante",
    "modality": "8x5",
    "intake": ITAC_INTAKE,
}

REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    # 004 BTW: NIT, contact data and evidence are required; the subcategory sets the priority.
    (
        "btw without evidence",
        {
            "policy": "btw",
            "ticket_type": "soporte",
            "subcategory": "error-xml",
            "intake": {k: v for k, v in BTW_INTAKE.items() if k != "evidencia"},
        },
        "intake-field-required",
        "intake.evidencia",
    ),
    (
        "btw evidence that is not an image",
        {
            "policy": "btw",
            "ticket_type": "soporte",
            "subcategory": "error-xml",
            "intake": {
                **BTW_INTAKE,
                "evidencia": {"name": "e.xml", "media_type": "application/xml"},
            },
        },
        "intake-file-type",
        "intake.evidencia",
    ),
    (
        "btw priority against its subcategory",
        {
            "policy": "btw",
            "ticket_type": "soporte",
            "subcategory": "error-500-dian",
            "priority": "p3",
            "intake": BTW_INTAKE,
        },
        "subcategory-priority",
        "priority",
    ),
    (
        "btw an implementation subcategory on a support ticket",
        {
            "policy": "btw",
            "ticket_type": "soporte",
            "subcategory": "habilitacion-dian",
            "intake": BTW_INTAKE,
        },
        "subcategory-type",
        "subcategory",
    ),
    (
        "btw a field the type does not take",
        {
            "policy": "btw",
            "ticket_type": "soporte",
            "subcategory": "error-xml",
            "intake": {**BTW_INTAKE, "logs": "x"},
        },
        "unknown-intake-field",
        "intake.logs",
    ),
    (
        "btw a contact email that is not one",
        {
            "policy": "btw",
            "ticket_type": "soporte",
            "subcategory": "error-xml",
            "intake": {**BTW_INTAKE, "correo-contacto": "ana"},
        },
        "intake-email",
        "intake.correo-contacto",
    ),
    # 000 BITAM: only the two latest versions; custom development is out of scope.
    (
        "bitam an old version",
        {**BITAM, "product_version": "6.4"},
        "unsupported-version",
        "product_version",
    ),
    (
        "bitam without product",
        {k: v for k, v in BITAM.items() if k != "product"},
        "product-required",
        "product",
    ),
    (
        "bitam third-party software",
        {**BITAM, "category": "software-terceros"},
        "out-of-scope",
        "category",
    ),
    (
        "bitam an unknown ticket type",
        {**BITAM, "ticket_type": "queja"},
        "unknown-ticket-type",
        "ticket_type",
    ),
    # 003 ITAC: the contracted modality and the environment details are needed.
    (
        "itac without modality",
        {k: v for k, v in ITAC.items() if k != "modality"},
        "modality-required",
        "modality",
    ),
    ("itac an unknown modality", {**ITAC, "modality": "12x6"}, "unknown-modality", "modality"),
    (
        "itac without environments",
        {**ITAC, "intake": {k: v for k, v in ITAC_INTAKE.items() if k != "ambientes"}},
        "intake-field-required",
        "intake.ambientes",
    ),
    # 001 iKhodi: P1..P4 only; hardware problems are out of scope.
    (
        "ikhodi an unknown priority",
        {"policy": "ikhodi", "ticket_type": "problemas-basicos", "priority": "p9"},
        "unknown-priority",
        "priority",
    ),
    (
        "ikhodi hardware",
        {
            "policy": "ikhodi",
            "ticket_type": "problemas-basicos",
            "priority": "p2",
            "category": "hardware",
        },
        "out-of-scope",
        "category",
    ),
    # 002 PRODITMA: a severity must be chosen.
    (
        "proditma without severity",
        {"policy": "proditma", "ticket_type": "incidente"},
        "priority-required",
        "priority",
    ),
]


@pytest.mark.parametrize(("case", "body", "rule", "field"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_request_outside_the_policy_is_refused_naming_the_rule_and_field(
    api: Api, case: str, body: dict[str, Any], rule: str, field: str
) -> None:
    request = {"title": "Solicitud", "description": "Detalle de la solicitud", **body}
    response = api.client.post("/v1/tickets", json=request, headers=CUSTOMER)
    assert is_problem(response, 422), response.text
    problem = response.json()
    assert problem["code"] == rule
    assert problem["errors"][0]["field"] == field
    assert api.client.get("/v1/tickets", headers=AGENT).json()["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        {
            "policy": "btw",
            "ticket_type": "implementacion",
            "subcategory": "habilitacion-dian",
            "intake": BTW_INTAKE,
        },
        {**BITAM, "ticket_type": "nuevo-requerimiento", "priority": "baja"},
        ITAC,
        {
            **ITAC,
            "modality": "24x7",
            "intake": {**ITAC_INTAKE, "logs": {"name": "server.log", "media_type": "text/plain"}},
        },
        {"policy": "ikhodi", "ticket_type": "orientacion-integraciones", "priority": "p4"},
        {"policy": "proditma", "ticket_type": "solicitud-apoyo", "priority": "media"},
    ],
    ids=[
        "btw implementation",
        "bitam feature request",
        "itac 8x5",
        "itac 24x7 with logs",
        "ikhodi p4",
        "proditma",
    ],
)
def test_a_request_that_follows_the_policy_is_accepted(api: Api, body: dict[str, Any]) -> None:
    response = api.client.post(
        "/v1/tickets",
        json={"title": "Solicitud", "description": "Detalle", **body},
        headers=CUSTOMER,
    )
    assert response.status_code == 201, response.text


PRODITMA = {"policy": "proditma", "ticket_type": "solicitud-apoyo", "priority": "media"}
CONTACT = {"id": "c-ana", "name": "Ana Ruiz", "email": "ana.ruiz@acme.example"}


ADMIN = {"Authorization": "Bearer dev-admin"}


@pytest.mark.parametrize(
    ("contact", "field"),
    [
        # Only email, SMS and WhatsApp can be agreed with a customer; a webhook is no channel.
        ({**CONTACT, "channel": "webhook"}, "channel"),
        # A number is needed to reach a contact by WhatsApp.
        ({**CONTACT, "channel": "whatsapp"}, "phone"),
        ({**CONTACT, "time_zone": "America/Atlantis"}, "time_zone"),
    ],
)
def test_a_contact_with_an_unusable_channel_or_zone_is_not_registered(
    api: Api, contact: dict[str, Any], field: str
) -> None:
    response = api.client.post("/v1/tenants/acme/contacts", json=contact, headers=ADMIN)
    assert is_problem(response, 422), response.text
    assert response.json()["errors"][0]["field"] == field
    missing = api.client.get(f"/v1/tenants/acme/contacts/{CONTACT['id']}", headers=ADMIN)
    assert missing.status_code == 404


def test_a_contacts_agreed_channel_must_be_one_the_policy_offers(api: Api) -> None:
    contact = {**CONTACT, "channel": "sms", "phone": "+573001234567"}
    assert api.client.post("/v1/tenants/acme/contacts", json=contact, headers=ADMIN).is_success
    # BITAM's customers are told by email only; PRODITMA (002) agrees SMS.
    request = {"title": "Solicitud", "description": "Detalle", "tenant": "acme", "contact": "c-ana"}
    refused = api.client.post("/v1/tickets", json={**request, **BITAM}, headers=AGENT)
    assert is_problem(refused, 422)
    assert refused.json()["code"] == "channel-not-offered"
    assert refused.json()["errors"][0]["field"] == "contact.channel"
    assert api.client.post("/v1/tickets", json={**request, **PRODITMA}, headers=AGENT).is_success


def test_a_contact_agreeing_on_whatsapp_travels_with_the_opened_ticket(api: Api) -> None:
    contact = {**CONTACT, "channel": "whatsapp", "phone": "+525512345678"}
    contact["time_zone"] = "America/Mexico_City"
    assert api.client.post("/v1/tenants/acme/contacts", json=contact, headers=ADMIN).is_success
    request = {"title": "Solicitud", "description": "Detalle", **PRODITMA, "tenant": "acme"}
    response = api.client.post("/v1/tickets", json={**request, "contact": "c-ana"}, headers=AGENT)
    assert response.status_code == 201, response.text
    assert response.json()["contact"] == {**contact, "locale": "es"}
