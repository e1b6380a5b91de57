"""From stored ticket events to the wire contracts (``contracts.events``).

The aggregate's events carry the same attributes as their payload models, so translation is a
name and a filter: what the envelope carries (ticket id, version, tenant, policy, time, trace)
and what is bookkeeping of the aggregate is left out of ``data``. Validating against the
payload model here means a drift between the aggregate and the contract fails loudly in tests,
not in a consumer.
"""

from __future__ import annotations

import re
from typing import Any

from contracts.events import EVENTS, EventPayload
from ticket_api.domain.ticket import Ticket

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
    """Internal notes and internal replies never reach customers."""
    return isinstance(event, Ticket.NoteAdded) or (
        isinstance(event, Ticket.AgentReplied) and not event.public
    )
