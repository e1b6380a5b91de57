"""The wire format: CloudEvents 1.0, JSON structured mode, and the NATS subjects.

A pydantic model of the spec's attributes is used instead of the ``cloudevents`` SDK: the
envelope is a dozen typed fields, we want it in our JSON Schemas and mypy-checked, and the SDK
would add a dependency for a ``dict`` (docs/adr/0004-event-contracts.md).

Extensions (lower-case alphanumerics, as the spec requires): ``ticketversion`` (the aggregate's
version after the event, the idempotency key together with ``subject``), ``tenant``,
``policy``, and the distributed-tracing extension's ``traceparent``/``tracestate``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from contracts.events.base import EventPayload, Identifier
from contracts.events.sla import SLA_EVENTS
from contracts.events.ticket import TICKET_EVENTS

TYPE_PREFIX = "supportdesk."
TICKETS_STREAM = "TICKETS"
SLA_STREAM = "SLA"
STREAM_SUBJECTS = {TICKETS_STREAM: "tickets.>", SLA_STREAM: "sla.>"}

Traceparent = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
]

EVENTS: dict[str, type[EventPayload]] = {
    cls.event_name: cls for cls in (*TICKET_EVENTS, *SLA_EVENTS)
}
"""Every event payload by its short name (``ticket.opened``, ``sla.breached``)."""


class UnknownEventError(ValueError):
    """An envelope's type or schema version is not one this contracts version knows."""


class CloudEvent(BaseModel):
    """One event on the wire (CloudEvents 1.0, structured JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    type: Annotated[str, StringConstraints(pattern=r"^supportdesk\.(ticket|sla)\.[a-z_]+$")]
    subject: str = Field(description="The ticket id.")
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str = Field(description="URN of the payload schema and its version.")
    data: dict[str, Any]
    ticketversion: Annotated[int, Field(ge=1)]
    tenant: Identifier
    policy: Identifier
    traceparent: Traceparent | None = None
    tracestate: Annotated[str, StringConstraints(max_length=512)] | None = None

    @property
    def event_name(self) -> str:
        return self.type.removeprefix(TYPE_PREFIX)

    @property
    def schema_version(self) -> int:
        return int(self.dataschema.rsplit(":v", 1)[1])


def dataschema(cls: type[EventPayload]) -> str:
    """The URN naming a payload class and its schema version."""
    return f"urn:supportdesk:schema:{cls.event_name}:v{cls.schema_version}"


def subject(name: str, *, tenant: str, ticket_id: UUID | str) -> str:
    """The NATS subject of an event: ``tickets.<tenant>.<ticket id>.<event>``.

    Tenant and ticket in the subject let a consumer filter one tenant, one ticket, or one kind
    of event (``tickets.*.*.escalated``) without decoding payloads, and let the stream be
    partitioned by ticket later with a subject transform.
    """
    family, event = name.split(".", 1)
    root = "tickets" if family == "ticket" else family
    return f"{root}.{tenant}.{ticket_id}.{event}"


def envelope(
    payload: EventPayload,
    *,
    ticket_id: UUID | str,
    ticket_version: int,
    tenant: str,
    policy: str,
    time: datetime,
    source: str,
    event_id: str | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
) -> CloudEvent:
    """Wrap a payload for the wire.

    A ticket event's id defaults to ``<ticket id>:<version>``, the same key JetStream's
    duplicate window uses (``Nats-Msg-Id``), so a re-publish is recognisable end to end.
    """
    cls = type(payload)
    return CloudEvent(
        id=event_id or f"{ticket_id}:{ticket_version}",
        source=source,
        type=TYPE_PREFIX + cls.event_name,
        subject=str(ticket_id),
        time=time,
        dataschema=dataschema(cls),
        data=payload.model_dump(mode="json", by_alias=True),
        ticketversion=ticket_version,
        tenant=tenant,
        policy=policy,
        traceparent=traceparent,
        tracestate=tracestate,
    )


def payload_of(event: CloudEvent) -> EventPayload:
    """The typed payload of an envelope; unknown types or versions are refused, not guessed."""
    cls = EVENTS.get(event.event_name)
    if cls is None:
        raise UnknownEventError(f"unknown event type {event.type!r}")
    data, version = event.data, event.schema_version
    while version < cls.schema_version and version in cls.upcasters:
        data, version = cls.upcasters[version](dict(data)), version + 1
    if version != cls.schema_version:
        raise UnknownEventError(
            f"{event.type} schema v{event.schema_version} is not supported "
            f"(this contracts version reads v{cls.schema_version})"
        )
    return cls.model_validate(data)


def to_wire(event: CloudEvent) -> bytes:
    """The message body: the envelope as UTF-8 JSON, absent optional attributes omitted."""
    return event.model_dump_json(exclude_none=True).encode()


def from_wire(body: bytes) -> CloudEvent:
    """Parse a message body; raises ``pydantic.ValidationError`` on a malformed envelope."""
    return CloudEvent.model_validate_json(body)
