"""Event payloads, the CloudEvents envelope and the subjects they travel on."""

from contracts.events.base import Actor, ActorKind, EventPayload
from contracts.events.envelope import (
    EVENTS,
    SLA_STREAM,
    STREAM_SUBJECTS,
    TICKETS_STREAM,
    CloudEvent,
    UnknownEventError,
    envelope,
    from_wire,
    payload_of,
    subject,
    to_wire,
)

__all__ = [
    "EVENTS",
    "SLA_STREAM",
    "STREAM_SUBJECTS",
    "TICKETS_STREAM",
    "Actor",
    "ActorKind",
    "CloudEvent",
    "EventPayload",
    "UnknownEventError",
    "envelope",
    "from_wire",
    "payload_of",
    "subject",
    "to_wire",
]
