"""Examples of ticket-api's requests and answers, for the OpenAPI document.

One story: Ana Ruiz of ACME (Colombia, policy ``btw``) reports that the DIAN answers 500 to
every electronic invoice; Lucía Gómez takes the case BTW-000123. Answers are what the service
returned for these requests (ids and times tidied). A test checks every example against its
schema (tests/test_openapi_documents.py).
"""

from __future__ import annotations

from typing import Any

TICKET_ID = "6d26ecf9-721b-4e07-95f0-8b97e427369a"
CASE = "BTW-000123"
INTAKE: dict[str, Any] = {
    "nit": "900123456-7",
    "nombre-contacto": "Ana Ruiz",
    "correo-contacto": "ana@acme.example",
    "telefono-contacto": "+57 300 000 0000",
    "evidencia": {"name": "error.png", "media_type": "image/png"},
}
ANA = {"kind": "customer", "id": "contact-ana", "name": "Ana Ruiz"}
LUCIA = {"kind": "agent", "id": "agent-lucia", "name": "Lucía Gómez"}

TICKET: dict[str, Any] = {
    "id": TICKET_ID,
    "case_number": CASE,
    "policy": "btw",
    "tenant": "acme",
    "state": "in_progress",
    "title": "Error 500 DIAN al enviar facturas",
    "description": "Desde las 9:00 la DIAN responde 500 a todas las facturas.",
    "ticket_type": "soporte",
    "priority": "p1",
    "subcategory": "error-500-dian",
    "product": None,
    "product_version": None,
    "channel": "portal",
    "modality": None,
    "contact": {
        "id": "contact-ana",
        "locale": "es",
        "name": "Ana Ruiz",
        "email": "ana@acme.example",
    },
    "intake": INTAKE,
    "assignee": {"id": "agent-lucia", "name": "Lucía Gómez"},
    "level": 1,
    "etr": None,
    "resolution": None,
    "closure": None,
    "reopen_until": None,
    "unanswered_contact_attempts": 0,
    "feature_review": None,
    "follow_up_of": None,
    "space": None,
    "attachments": [],
    "created_at": "2026-11-30T14:02:11Z",
    "updated_at": "2026-11-30T14:20:45Z",
    "version": 3,
}

SUMMARY: dict[str, Any] = {
    "id": TICKET_ID,
    "case_number": CASE,
    "policy": "btw",
    "tenant": "acme",
    "state": "in_progress",
    "priority": "p1",
    "ticket_type": "soporte",
    "assignee_id": "agent-lucia",
    "contact_id": "contact-ana",
    "level": 1,
    "title": "Error 500 DIAN al enviar facturas",
    "created_at": "2026-11-30T14:02:11Z",
    "updated_at": "2026-11-30T14:20:45Z",
    "version": 3,
}
CURSOR = "YWZ0ZXI6NDIxMQ"
PAGE: dict[str, Any] = {"items": [SUMMARY], "next_cursor": CURSOR}

EVENT: dict[str, Any] = {
    "id": f"{TICKET_ID}:2",
    "type": "ticket.assigned",
    "version": 2,
    "time": "2026-11-30T14:15:02Z",
    "actor": LUCIA,
    "data": {"agent_id": "agent-lucia", "agent_name": "Lucía Gómez", "support_level": 1},
}

ASSIGN = {"agent_id": "agent-lucia", "agent_name": "Lucía Gómez", "support_level": 1}
REPLY = {
    "body": "Hola Ana, la DIAN reporta intermitencia; reenviaremos las facturas rechazadas.",
    "public": True,
    "channel": "portal",
}
AWAIT_CUSTOMER = {"request": "¿Nos comparte el número de una factura rechazada y la hora?"}
CONTACT_ATTEMPT = {"channel": "phone", "note": "Buzón de voz; se dejó mensaje."}
RECLASSIFY = {"priority": "p2", "reason": "Hay una solución alterna: envío por el portal DIAN."}
ESCALATE = {
    "to_level": 2,
    "reason": "Requiere revisar el certificado de firma del cliente.",
    "etr": "2026-11-30T18:00:00-05:00",
}
UPDATE_ETR = {"etr": "2026-12-01T12:00:00-05:00", "note": "Esperamos respuesta de la DIAN."}
RESOLVE = {
    "resolution": "solution",
    "summary": "Se renovó el certificado de firma; las facturas pendientes se enviaron.",
}
REOPEN = {"reason": "Volvió a fallar el envío de notas crédito."}
CLOSE = {"closure": "confirmed", "note": "Ana confirmó que ya factura con normalidad."}
NOTE = {"body": "La DIAN confirmó una caída parcial entre 9:00 y 11:30."}
FEATURE_REVIEW = {
    "viable": True,
    "cost_note": "Dos semanas de desarrollo.",
    "target_release": "2027.1",
}

BULK_RESULT: dict[str, Any] = {
    "items": [
        {
            "ticket": CASE,
            "status": 200,
            "id": TICKET_ID,
            "case_number": CASE,
            "state": "open",
            "version": 2,
            "problem": None,
        },
        {
            "ticket": "BTW-000124",
            "status": 412,
            "id": None,
            "case_number": None,
            "state": None,
            "version": None,
            "problem": {
                "type": "https://supportdesk.dev/problems/stale-version",
                "title": "Precondition failed",
                "status": 412,
                "detail": "El ticket cambió: está en la versión 4. Léalo de nuevo y reintente.",
                "instance": "/v1/tickets/bulk",
                "code": "stale-version",
                "errors": None,
            },
        },
    ]
}

TENANT_IN = {"slug": "initech", "name": "Initech S.A. de C.V.", "policies": ["bitam"]}
TENANT_CHANGE = {"name": "Initech México S.A. de C.V.", "policies": ["bitam", "btw"]}
TENANT: dict[str, Any] = {
    "slug": "initech",
    "name": "Initech S.A. de C.V.",
    "active": True,
    "policies": ["bitam"],
    "spaces": {"portal-clientes": {"name": "Portal de clientes", "contact": "contact-maria"}},
    "contacts": ["contact-maria"],
    "version": 3,
}
SPACE_IN = {"name": "Portal de clientes", "contact": "contact-maria"}
CONTACT_IN = {
    "id": "contact-maria",
    "name": "María Pérez",
    "email": "maria.perez@initech.example",
    "locale": "es",
    "channel": "email",
    "time_zone": "America/Mexico_City",
}
CONTACT_CHANGE = {"phone": "+525512345678", "channel": "whatsapp"}
CONTACT: dict[str, Any] = {
    "id": "contact-maria",
    "tenant": "initech",
    "active": True,
    "name": "María Pérez",
    "email": "maria.perez@initech.example",
    "locale": "es",
    "phone": None,
    "channel": "email",
    "time_zone": "America/Mexico_City",
    "spaces": ["portal-clientes"],
}
STAFF_IN = {
    "id": "agent-sofia",
    "role": "agent",
    "name": "Sofía Herrera",
    "email": "sofia.herrera@supportdesk.example",
    "tenants": ["acme", "initech"],
}
STAFF: dict[str, Any] = STAFF_IN | {"active": True}
KEY_IN = {
    "holder": {"kind": "customer", "id": "contact-maria", "tenant": "initech"},
    "label": "Integración ERP",
}
KEY: dict[str, Any] = {
    "key_id": "3f9a1c7e2b4d",
    "holder": {"kind": "customer", "id": "contact-maria", "tenant": "initech"},
    "label": "Integración ERP",
    "revoked": False,
}
NEW_KEY: dict[str, Any] = KEY | {"key": "sdk_3f9a1c7e2b4d_q7Vn2xK9pL4sT8wZ1mR6cY3bH5jD0fGa"}

EMAIL = (
    "From: Ana Ruiz <ana@acme.example>\r\n"
    "To: soporte@supportdesk.example\r\n"
    "Subject: Error 500 DIAN al enviar facturas\r\n"
    "Message-ID: <CAF3x9k2@mail.acme.example>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Desde las 9:00 la DIAN responde 500 a todas las facturas.\r\n"
)
INTAKE_OUT: dict[str, Any] = {
    "action": "opened",
    "reason": None,
    "ticket_id": TICKET_ID,
    "case_number": CASE,
    "refused_attachments": [],
}

PRINCIPAL: dict[str, Any] = {
    "kind": "agent",
    "id": "agent-lucia",
    "name": "Lucía Gómez",
    "tenant": None,
    "tenants": [],
    "all_tenants": True,
}

PARKED_EVENT: dict[str, Any] = {
    "notification_id": 8123,
    "ticket_id": TICKET_ID,
    "ticket_version": 5,
    "event": "agent_replied",
    "reason": "message too large: 1200345 bytes, the server takes 1048576",
    "parked_at": "2026-11-30T15:02:00+00:00",
    "republish_requested": False,
    "republished_at": None,
}
PARKED: dict[str, Any] = {"items": [PARKED_EVENT]}
REPUBLISHING: dict[str, Any] = PARKED_EVENT | {"republish_requested": True}

POLICY: dict[str, Any] = {
    "id": "bitam",
    "name": "Políticas de Soporte Técnico BITAM (FEMSA)",
    "vendor": "BITAM",
    "case_prefix": "BIT",
    "priorities": {
        "urgente": {
            "name": "Urgente",
            "description": "Sistema inoperante sin solución alterna.",
            "targets": {
                "first_response": {
                    "within": "1h",
                    "clock": "business",
                    "calendar": "oficina-mexico",
                    "seconds": 3600.0,
                },
                "resolution": {
                    "within": "1h",
                    "clock": "business",
                    "calendar": "oficina-mexico",
                    "seconds": 3600.0,
                },
            },
        }
    },
    "ticket_types": [
        {
            "id": "soporte",
            "name": "Soporte",
            "sla_exempt": False,
            "decision": None,
            "required_fields": [],
            "optional_fields": [],
            "default_priority": None,
        }
    ],
    "subcategories": [],
    "out_of_scope": [
        {
            "id": "desarrollo-nuevas-funcionalidades",
            "name": "Desarrollo de nuevas funcionalidades (salvo consultoría)",
            "description": None,
        }
    ],
    "products": [{"id": "ebavel", "name": "eBavel", "supported_versions": ["6.5", "6.6"]}],
    "modalities": [],
    "contact_channels": [
        {
            "kind": "portal",
            "address": None,
            "calendar": None,
            "priorities": [],
            "note": "Requiere usuario registrado",
        }
    ],
    "support_hours": [
        {
            "country": "México",
            "time_zone": "America/Mexico_City",
            "hours": {
                "mon": ["08:30-18:00"],
                "tue": ["08:30-18:00"],
                "wed": ["08:30-18:00"],
                "thu": ["08:30-18:00"],
                "fri": ["08:30-18:00"],
            },
        }
    ],
    "lifecycle": {
        "clock_starts": "registration",
        "pause_in": ["awaiting_customer"],
        "reopen_window": {"within": "15bd", "clock": "business", "calendar": None},
        "on_reopen": "restart",
        "close_requires_confirmation": True,
        "auto_close_after": {"within": "15bd", "clock": "business", "calendar": None},
        "personal_data_retention": None,
    },
    "abandonment": {
        "inactivity": {"within": "7d", "clock": "calendar", "calendar": None},
        "grace_after_resolution": {"within": "15bd", "clock": "business", "calendar": None},
        "max_unanswered_contact_attempts": None,
        "notice_before_close": "2bd",
    },
    "escalation": None,
}
"""The BITAM policy as served (lists cut to their first entry)."""

HEALTH = {"status": "ok"}
READY: dict[str, Any] = {
    "status": "ok",
    "event_store": "ok",
    "outbox_relay": "publishing",
    "outbox_relay_seconds_since_progress": 0.4,
    "parked_events": 0,
}


def answer(value: Any, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """An operation's own example of its answer, for its ``responses=``."""
    return {status: {"content": {"application/json": {"example": value}}}}
