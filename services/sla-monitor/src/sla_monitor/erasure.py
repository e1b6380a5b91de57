"""sla-monitor's part of an erasure (ADR 23): when a ticket's ``ticket.personal_data_erased``
arrives, its stored events and its dashboard name lose the contact's personal data.

The events are kept (they are the clocks' source of truth) with their personal fields set to
the erased placeholders, exactly as ticket-api now serves them, so a rebuild computes the same
clocks, timers and receipts: times, states, levels and SLA outcomes are not personal data.
Events arriving sealed are opened with the key ticket-api hands out (``opener``).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from contracts.events import CloudEvent, EventPayload
from servicekit.messaging.consumer import Connection, Handler
from servicekit.personal_data import ERASED, KeyClient, Unsealer, erase

ERASURE = "ticket.personal_data_erased"


def opener(ticket_api_url: str | None, credential: str) -> Unsealer | None:
    """Opens sealed events with keys from ticket-api; ``None`` without ticket-api (then a
    sealed event is unreadable and set aside as a dead letter, never read as plain)."""
    if not ticket_api_url:
        return None
    return Unsealer(KeyClient(ticket_api_url, credential))


def erasing(handler: Handler) -> Handler:
    """The projection's handler, then the blanking of a ticket whose data was erased."""

    async def handle(event: CloudEvent, payload: EventPayload, conn: Connection) -> None:
        await handler(event, payload, conn)
        if event.event_name == ERASURE:
            await blank(conn, UUID(event.subject))

    return handle


async def blank(conn: Connection, ticket_id: UUID) -> int:
    """Erase the personal fields of a ticket's stored events and its name; rows changed."""
    changed = 0
    rows = await conn.fetch(
        "SELECT version, name, payload FROM sla_ticket_events WHERE ticket_id = $1", ticket_id
    )
    for row in rows:
        stored: Any = row["payload"]
        payload = json.loads(stored) if isinstance(stored, str) else stored
        erased = erase(row["name"], payload)
        if erased != payload:
            await conn.execute(
                "UPDATE sla_ticket_events SET payload = $3 WHERE ticket_id = $1 AND version = $2",
                ticket_id,
                row["version"],
                json.dumps(erased, ensure_ascii=False),
            )
            changed += 1
    done = await conn.execute(
        "UPDATE sla_tickets SET title = $2 WHERE ticket_id = $1 AND title <> $2", ticket_id, ERASED
    )
    return changed + int(done.split()[-1])
