"""Changes to the ticket itself are asked of ticket-api, so the ticket's history stays the truth.

The command and its body were decided when the action was armed (``sla_monitor.actions``); this
only sends them. sla-monitor acts as the service principal, with the action's identity as
``Idempotency-Key``: a command sent twice (a crash between sending and recording) happens once.
A 4xx means the ticket moved on (the customer answered, an agent escalated first): the action
is done. A 5xx or no answer is transient: the action fires again on the next round.
"""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

import httpx2
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from servicekit.messaging.consumer import TransientError

tracer = trace.get_tracer("sla_monitor")


class TicketCommands(Protocol):
    async def send(self, ticket_id: UUID, command: str, body: dict[str, Any], key: str) -> int:
        """Send one command; returns the HTTP status (raises ``TransientError`` on 5xx)."""
        ...


class TicketApiCommands:
    """ticket-api's REST API, called with the service key."""

    def __init__(self, client: httpx2.AsyncClient, api_key: str) -> None:
        self.client = client
        self.api_key = api_key

    async def send(self, ticket_id: UUID, command: str, body: dict[str, Any], key: str) -> int:
        headers = {"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": key}
        with tracer.start_as_current_span(
            f"POST /v1/tickets/{{id}}/{command}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": "POST", "supportdesk.ticket.id": str(ticket_id)},
        ) as span:
            propagate.inject(headers)  # ticket-api continues the timer's trace
            try:
                response = await self.client.post(
                    f"/v1/tickets/{ticket_id}/{command}", json=body, headers=headers
                )
            except httpx2.HTTPError as exc:
                raise TransientError(f"ticket-api unreachable: {exc}") from exc
            span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 500:
            raise TransientError(f"ticket-api answered {response.status_code}")
        return response.status_code
