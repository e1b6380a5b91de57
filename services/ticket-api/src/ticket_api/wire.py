"""From stored ticket events to the wire contracts (``contracts.events``).

The aggregate's events carry the same attributes as their payload models, so translation is a
name and a filter: what the envelope carries (ticket id, version, tenant, policy, time, trace)
and what is bookkeeping of the aggregate is left out of ``data``. Validating against the
payload model here means a drift between the aggregate and the contract fails loudly in tests,
not in a consumer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from contracts.events import EVENTS, CloudEvent, EventPayload, envelope, to_wire
from contracts.events.base import uncarriable
from contracts.events.ticket import is_internal as internal_fact
from ticket_api.domain.ticket import Ticket

SOURCE = "/ticket-api"
MAX_WIRE_BYTES = 900 * 1024
"""The largest message body the relay publishes: NATS refuses payloads over its
``max_payload`` (1 MiB by default), and headers (trace context, message id) need room too."""

_ENVELOPE_OR_BOOKKEEPING = {
    "originator_id",
    "originator_version",
    "originator_topic",
    "timestamp",
    "trace",
    "policy",
    "tenant",
    "feature_request",
    "reopen_until",
}


def event_name(event: Ticket.Event) -> str:
    """``Ticket.AgentReplied`` → ``ticket.agent_replied``."""
    return "ticket." + re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()


def payload(event: Ticket.Event) -> EventPayload:
    """The contract payload of a stored ticket event."""
    data: dict[str, Any] = {
        k: v for k, v in vars(event).items() if k not in _ENVELOPE_OR_BOOKKEEPING
    }
    return EVENTS[event_name(event)].model_validate(data)


def is_internal(event: Ticket.Event) -> bool:
    """Internal notes and internal replies never reach customers (the contract's rule)."""
    return internal_fact(event_name(event), getattr(event, "public", None))


class Unpublishable(ValueError):
    """A ticket event the event contract or the wire cannot carry; ``field`` says where."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def wire_event(
    event: Ticket.Event,
    *,
    tenant: str,
    policy: str,
    carry: Callable[[dict[str, Any]], object] | None = None,
) -> tuple[CloudEvent, bytes]:
    """The CloudEvent of a ticket event and its message body, exactly as the relay publishes
    them — or ``Unpublishable``.

    The event store calls this before saving and the relay when publishing: one check, so an
    event that was stored can always be published (and a consumer's store can hold it).
    """
    try:
        data = payload(event)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Unpublishable(
            ".".join(str(p) for p in first["loc"]) or "data", first["msg"]
        ) from None
    for where, text in _strings(data.model_dump(mode="python")):
        if (bad := uncarriable(text)) is not None:
            raise Unpublishable(where, f"contains the character U+{ord(bad):04X}")
    cloud_event = envelope(
        data,
        ticket_id=UUID(str(event.originator_id)),
        ticket_version=event.originator_version,
        tenant=tenant,
        policy=policy,
        time=event.timestamp,
        source=SOURCE,
        traceparent=event.trace.get("traceparent"),
        tracestate=event.trace.get("tracestate"),
    )
    if carry is not None:  # what travels instead of the checked data (sealed fields, ADR 23);
        carry(cloud_event.data)  # the envelope's own fresh dict, changed where it is
    try:
        body = to_wire(cloud_event)
    except (PydanticSerializationError, UnicodeError) as exc:
        raise Unpublishable("data", str(exc)) from None
    if len(body) > MAX_WIRE_BYTES:
        raise Unpublishable("data", f"{len(body)} bytes on the wire; at most {MAX_WIRE_BYTES}")
    return cloud_event, body


def _strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string inside a payload (keys too), with where it is: free-form fields such as
    the intake answers are not typed ``Text``, yet must travel as well."""
    if isinstance(value, str):
        yield where or "data", value
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            yield path, str(key)
            yield from _strings(item, path)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}.{index}" if where else str(index))


def uncarriable_attribute(event: object) -> None:
    """``Unpublishable`` if any string an event carries holds what no store can keep."""
    for where, text in _strings(
        {k: v for k, v in vars(event).items() if k not in _ENVELOPE_OR_BOOKKEEPING}
    ):
        if (bad := uncarriable(text)) is not None:
            raise Unpublishable(where, f"contains the character U+{ord(bad):04X}")
