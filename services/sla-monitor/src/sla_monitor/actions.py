"""What the policy asks sla-monitor to do to a ticket, with the full command: escalate to the
next level (with an estimated time of resolution), resolve or close an abandoned ticket, close
an expired one, and tell the customer of an automatic close to come.

Pure: an ``Action`` is decided by the ticket's clocks (``TicketSla.actions``) when its events
are projected, and carries everything the timer loop sends when it falls due — the ticket-api
command and its body, or the SLA event of the notice — so the sender only serializes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

DEFAULT_ETR = timedelta(hours=4)
"""The ETR an escalation promises from its due instant when the resolution clock has neither a
deadline ahead nor a target (paused, or not measured for this priority)."""
NOTIFY = "notify"
"""The command of an action that changes nothing on the ticket: an SLA event is published."""


class ActionKind(StrEnum):
    """Changes to the ticket itself, which sla-monitor asks ticket-api to make."""

    ESCALATE = "escalate"
    RESOLVE_ABANDONED = "resolve_abandoned"
    CLOSE_ABANDONED = "close_abandoned"
    CLOSE_EXPIRED = "close_expired"
    NOTIFY_CLOSE = "close_notice"
    """Not a ticket change: the customer's notice, ``notice_before_close`` ahead of the
    automatic close of an abandoned ticket (000), published as an SLA event."""


@dataclass(frozen=True)
class Action:
    """A command due at ``due`` (``level`` for escalations): ticket-api's ``command``
    (``POST /v1/tickets/{id}/{command}``) with ``body``, or ``notify`` with the body of the
    ``sla.abandonment_warning`` event."""

    kind: ActionKind
    due: datetime
    level: int = 0
    command: str = ""
    body: dict[str, Any] = field(default_factory=dict)


def escalation(
    level: int, due: datetime, deadline: datetime | None, target: timedelta | None
) -> Action:
    """Escalate to ``level`` at ``due`` for lack of a resolution within the level below's
    time. The ETR promised is the resolution deadline while it is still ahead, else ``due``
    plus the resolution target (``DEFAULT_ETR`` without one)."""
    etr = deadline if deadline is not None and deadline > due else due + (target or DEFAULT_ETR)
    reason = (
        f"Sin resolución dentro del tiempo del nivel {level - 1} / "
        f"unresolved within level {level - 1}'s time"
    )
    body = {"to_level": level, "reason": reason, "etr": etr.isoformat()}
    return Action(ActionKind.ESCALATE, due, level, "escalate", body)


def resolve_abandoned(due: datetime) -> Action:
    """Resolve as abandoned: the customer did not answer within the policy's period."""
    summary = (
        "El cliente no respondió en el plazo de la política / "
        "no customer answer within the policy's period"
    )
    body = {"resolution": "abandoned", "summary": summary}
    return Action(ActionKind.RESOLVE_ABANDONED, due, 0, "resolve", body)


def close(kind: ActionKind, due: datetime) -> Action:
    """Close an abandoned ticket, or a resolved one nobody confirmed (expired)."""
    closure = "abandoned" if kind is ActionKind.CLOSE_ABANDONED else "expired"
    return Action(kind, due, 0, "close", {"closure": closure, "note": "sla-monitor"})


def close_notice(due: datetime, close_at: datetime) -> Action:
    """Tell the customer at ``due`` that the ticket closes at ``close_at``."""
    body = {"step": "close", "happens_at": close_at.isoformat()}
    return Action(ActionKind.NOTIFY_CLOSE, due, 0, NOTIFY, body)
