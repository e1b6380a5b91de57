"""What a caller asks the ticket desk to do: one small command per use case, and the caller.

A command holds only what the asker decides (an agent's name, a reason, an ETR); what the
ticket or its policy decides (the priority a subcategory implies, the end of the reopen window,
the highest level) is worked out by the use case, so no entry point can get it wrong. REST
views build commands from their request bodies, email intake from a message, tests directly:
the field names are the request bodies' own, so ``Assign(**body.model_dump())`` is the whole
translation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from ticket_api.domain.ticket import Actor, Ticket, Trace


@dataclass(frozen=True)
class Idempotency:
    """A client's ``Idempotency-Key``, scoped by principal, with the request's fingerprint."""

    principal: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Caller:
    """Who asks for a use case, and the guarantees their request asked for.

    ``idempotency``: a retry gets the first answer. ``expected_version`` (``If-Match``): a
    ticket that moved past it is refused rather than changed blindly. ``authorize`` runs on the
    loaded ticket before anything changes: REST passes the principal's tenant scope, so a
    ticket of another tenant is "not found" under the reference the caller used.
    """

    actor: Actor
    trace: Trace | None = None
    idempotency: Idempotency | None = None
    expected_version: int | None = None
    authorize: Callable[[Ticket], None] | None = None

    @property
    def is_customer(self) -> bool:
        return bool(self.actor.get("kind") == "customer")


@dataclass(frozen=True)
class Outcome:
    """A command's result; ``replayed`` when it is the stored answer to an earlier request."""

    ticket: Ticket
    replayed: bool = False


@dataclass(frozen=True)
class OpenTicket:
    """A request to register: the fields of an opening, declared once.

    ``tenant`` and ``contact`` are resolved by the entry point (the directory knows who is
    asking); ``category`` and ``require_intake`` steer the policy's checks and are not recorded.
    """

    NOT_RECORDED: ClassVar[frozenset[str]] = frozenset({"category", "require_intake"})

    policy: str
    tenant: str
    contact: dict[str, Any]
    title: str
    description: str
    ticket_type: str
    priority: str | None = None
    """Derived from the subcategory when it sets one, else the type's default."""
    subcategory: str | None = None
    category: str | None = None
    product: str | None = None
    product_version: str | None = None
    channel: str = "portal"
    modality: str | None = None
    intake: dict[str, Any] = field(default_factory=dict)
    follow_up_of: UUID | None = None
    space: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    require_intake: bool = True
    """Off for email: a message cannot fill a form, so the agent asks for what is missing."""

    def recorded(self) -> dict[str, Any]:
        """The fields the ticket records as asked (priority and intake: as the policy says)."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in self.NOT_RECORDED
        }


@dataclass(frozen=True)
class Assign:
    agent_id: str
    agent_name: str
    support_level: int | None = None
    """Must be the ticket's current level: changing levels is an escalation."""


@dataclass(frozen=True)
class Reply:
    """A reply by whoever asks: the customer's answer, or an agent's (public or internal)."""

    body: str
    public: bool = True
    """Agents only: false for an internal reply. A customer's reply is always public."""
    channel: str = "portal"
    attachments: list[dict[str, Any]] = field(default_factory=list)
    """Files that came with a customer's reply (stored first; by email only)."""


@dataclass(frozen=True)
class AwaitCustomer:
    request: str


@dataclass(frozen=True)
class ContactAttempt:
    channel: str
    note: str | None = None


@dataclass(frozen=True)
class Reclassify:
    """Change type, subcategory or priority; what is not named is kept where the rules allow."""

    reason: str
    priority: str | None = None
    ticket_type: str | None = None
    subcategory: str | None = None


@dataclass(frozen=True)
class Escalate:
    to_level: int
    reason: str
    etr: datetime


@dataclass(frozen=True)
class UpdateEtr:
    etr: datetime
    note: str | None = None


@dataclass(frozen=True)
class Resolve:
    resolution: str
    """``solution``, ``workaround`` or ``abandoned``."""
    summary: str


@dataclass(frozen=True)
class Reopen:
    reason: str


@dataclass(frozen=True)
class Close:
    closure: str
    """``confirmed``, ``expired``, ``abandoned`` or ``customer_request``."""
    note: str | None = None


@dataclass(frozen=True)
class Note:
    body: str


@dataclass(frozen=True)
class FeatureReview:
    viable: bool
    cost_note: str | None = None
    target_release: str | None = None
