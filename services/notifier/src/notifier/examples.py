"""Examples of the notifier's requests and answers, for the OpenAPI document.

One story: BIT-000123 of tenant ``acme`` (BITAM policy) was opened; its customer Ana Ruiz got
the acknowledgement by email, and the tenant's ERP receives ``ticket.*`` events through a
webhook subscription. A test checks every example against its schema.
"""

from __future__ import annotations

from typing import Any

DELIVERY: dict[str, Any] = {
    "id": "5c1e9a7b3d2f4e6a8b0c1d2e3f4a5b6c",
    "event_id": "0b8f6c2e-4d1a-4f3b-9a7e-2c5d8e1f3a6b:1",
    "event_type": "supportdesk.ticket.opened",
    "ticket_id": "0b8f6c2e-4d1a-4f3b-9a7e-2c5d8e1f3a6b",
    "tenant": "acme",
    "policy": "bitam",
    "case_number": "BIT-000123",
    "kind": "acknowledgment",
    "audience": "customer",
    "channel": "email",
    "recipient": "ana.ruiz@acme.example",
    "recipient_name": "Ana Ruiz",
    "locale": "es",
    "subject": "[BIT-000123] Recibimos su solicitud: El portal de facturación no responde",
    "status": "sent",
    "attempts": 1,
    "next_attempt_at": None,
    "last_error": None,
    "created_at": "2026-11-27T23:30:01Z",
    "sent_at": "2026-11-27T23:30:02Z",
}

WEBHOOK_DELIVERY: dict[str, Any] = DELIVERY | {
    "id": "9e4b2d7f1a3c5e8b0d6f2a4c7e9b1d3f",
    "audience": "integrations",
    "channel": "webhook",
    "recipient": "sub:wh_8c3f1a9e2d7b4c6a5e0f",
    "recipient_name": "ERP de Acme",
    "subject": "supportdesk.ticket.opened BIT-000123",
    "status": "pending",
    "attempts": 2,
    "next_attempt_at": "2026-11-27T23:31:05Z",
    "last_error": "HTTP 503 from the receiver",
    "sent_at": None,
}

CURSOR = "WzQxOTJd"

DELIVERY_PAGE: dict[str, Any] = {"items": [DELIVERY], "next_cursor": CURSOR}
WEBHOOK_DELIVERY_PAGE: dict[str, Any] = {"items": [WEBHOOK_DELIVERY], "next_cursor": None}

WEBHOOK_IN: dict[str, Any] = {
    "url": "https://erp.acme.example/hooks/supportdesk",
    "events": ["ticket.*", "sla.breached"],
    "tenant": "acme",
    "policy": "bitam",
    "priority": None,
    "description": "ERP de Acme: abre una orden de servicio por ticket",
    "owner_email": "it@acme.example",
}

WEBHOOK: dict[str, Any] = {
    "id": "wh_8c3f1a9e2d7b4c6a5e0f",
    "url": "https://erp.acme.example/hooks/supportdesk",
    "events": ["ticket.*", "sla.breached"],
    "tenant": "acme",
    "policy": "bitam",
    "priority": None,
    "description": "ERP de Acme: abre una orden de servicio por ticket",
    "owner_email": "it@acme.example",
    "status": "active",
    "paused_reason": None,
    "consecutive_failures": 0,
    "rotation_ends_at": None,
    "created_by": "admin-acme",
    "created_at": "2026-11-20T16:05:00Z",
    "updated_at": "2026-11-20T16:05:00Z",
}

WEBHOOK_WITH_SECRET: dict[str, Any] = WEBHOOK | {
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw3kVx6s1Z2u8="
}

ROTATED: dict[str, Any] = WEBHOOK_WITH_SECRET | {
    "secret": "whsec_Zb7yN2c4QvX1pL8sT5mR0wK3jH6gF9dE2aB4cD6eF8g=",
    "rotation_ends_at": "2026-12-01T16:00:00Z",
    "updated_at": "2026-11-30T16:00:00Z",
}

WEBHOOK_PAGE: dict[str, Any] = {"items": [WEBHOOK], "next_cursor": None}

PAUSE_IN: dict[str, Any] = {"reason": "Migración del ERP hasta el lunes"}
ROTATE_IN: dict[str, Any] = {"overlap_seconds": 86400}

PING: dict[str, Any] = {
    "webhook_id": "ping_5f2a9c4e7b1d3a6c8e0f2b4d",
    "delivered": True,
    "status": 202,
    "body": '{"received": true}',
    "error": None,
}

HEALTH: dict[str, Any] = {"status": "ok"}
READY: dict[str, Any] = {"status": "ok", "database": "ok", "nats": "ok", "consumers": "attached"}
