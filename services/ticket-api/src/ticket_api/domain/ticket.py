"""The Ticket aggregate: one customer request and everything that happened to it.

The lifecycle is DOMAIN.md's: open → in progress ⇄ awaiting customer → resolved → closed.
A resolved ticket reopens on the customer's reply or request while its reopen window lasts; a
closed ticket never reopens — a follow-up ticket continues it. Every method takes the acting
principal (``by``) and the instant (``at``, from the injectable clock), so the history says who
did what and when, and a simulated clock can drive it.

Each event's attributes are those of its wire payload in ``contracts.events.ticket`` plus the
trace context of the request that caused it, so the relay publishes them without translation.
The trace context is not a parameter: ``Ticket.Event`` reads it from ``domain.tracing`` when
the event is created (the desk sets it for the length of a use case).

long: the library stores each event under its topic, ``ticket_api.domain.ticket:Ticket.<Event>``,
so the event classes stay nested in ``Ticket`` in this module (moving them would orphan every
stored event); each method sits beside the event it records, as the lifecycle reads.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from contracts.vocabulary import TicketState
from ticket_api.domain.errors import InvalidCommand, TicketRuleBroken
from ticket_api.domain.tracing import Trace, current_trace

__all__ = ["OPEN_STATES", "Actor", "Ticket", "Trace"]

Actor = dict[str, Any]
"""``{"kind": "agent", "id": "...", "name": "..."}`` (contracts.events.Actor as a dict)."""

OPEN_STATES = {TicketState.OPEN, TicketState.IN_PROGRESS, TicketState.AWAITING_CUSTOMER}


class Ticket(Aggregate):
    """A support request, from registration to closure."""

    class Event(Aggregate.Event):
        actor: Actor
        trace: Trace = field(default_factory=current_trace, init=False)
        """The W3C trace context set by ``domain.tracing.tracing`` when the event was made."""

    class Opened(Event, Aggregate.Created):
        """Version 2 added the contracted modality (003) and the follow-up link; version 3
        the contracted space (000) and attachments. Older tickets are read as having none."""

        class_version = 3

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.setdefault("modality", None)
            state.setdefault("follow_up_of", None)

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state.setdefault("space", None)
            state.setdefault("attachments", [])

        case_number: str
        policy: str
        tenant: str
        contact: dict[str, Any]
        title: str
        description: str
        ticket_type: str
        priority: str
        subcategory: str | None
        product: str | None
        product_version: str | None
        channel: str
        modality: str | None
        intake: dict[str, Any]
        follow_up_of: UUID | None
        feature_request: bool
        space: str | None
        attachments: list[dict[str, Any]]

    def __init__(
        self,
        *,
        case_number: str,
        policy: str,
        tenant: str,
        contact: dict[str, Any],
        title: str,
        description: str,
        ticket_type: str,
        priority: str,
        subcategory: str | None,
        product: str | None,
        product_version: str | None,
        channel: str,
        modality: str | None,
        intake: dict[str, Any],
        follow_up_of: UUID | None,
        feature_request: bool,
        space: str | None,
        attachments: list[dict[str, Any]],
        actor: Actor,
    ) -> None:
        self.case_number = case_number
        self.policy = policy
        self.tenant = tenant
        self.contact = contact
        self.title = title
        self.description = description
        self.ticket_type = ticket_type
        self.priority = priority
        self.subcategory = subcategory
        self.product = product
        self.product_version = product_version
        self.channel = channel
        self.modality = modality
        self.intake = intake
        self.follow_up_of = follow_up_of
        self.feature_request = feature_request
        self.space = space
        self.attachments = list(attachments)
        self.opened_by = actor
        self.state = TicketState.OPEN
        self.assignee: dict[str, Any] | None = None
        self.level = 1
        self.etr: datetime | None = None
        self.resolution: str | None = None
        self.closure: str | None = None
        self.reopen_until: datetime | None = None
        self.unanswered_attempts = 0
        self.feature_review: dict[str, Any] | None = None
        self.first_public_reply_at: datetime | None = None
        self.reopen_count = 0

    @classmethod
    def open(cls, *, by: Actor, at: datetime, **details: Any) -> Ticket:
        """Register a request as a ticket (state: open)."""
        details.setdefault("space", None)
        details.setdefault("attachments", [])
        return cls._create(cls.Opened, timestamp=at, actor=by, **details)

    # -- helpers ---------------------------------------------------------------------------

    def _trigger(self, event: type[Ticket.Event], by: Actor, at: datetime, **data: Any) -> None:
        self.trigger_event(event, timestamp=at, actor=by, **data)

    def _refuse_when_closed(self, doing: str) -> None:
        if self.state is TicketState.CLOSED:
            raise TicketRuleBroken(
                "ticket-closed",
                en=f"{self.case_number} is closed and cannot {doing}: open a follow-up ticket "
                "that continues it (follow_up_of).",
                es=f"El caso {self.case_number} está cerrado y no admite {doing}: abra un "
                "ticket de seguimiento que lo continúe (follow_up_of).",
            )

    def _require_state(self, doing: str, *allowed: TicketState) -> None:
        self._refuse_when_closed(doing)
        if self.state not in allowed:
            names = ", ".join(s.value for s in allowed)
            raise TicketRuleBroken(
                "illegal-transition",
                en=f"{self.case_number} is {self.state.value}; it can {doing} only when {names}.",
                es=f"El caso {self.case_number} está en estado {self.state.value}; solo admite "
                f"{doing} en: {names}.",
            )

    # -- classification and assignment ---------------------------------------------------

    class Classified(Event):
        ticket_type: str
        priority: str
        subcategory: str | None
        previous_ticket_type: str
        previous_priority: str
        reason: str

        def apply(self, ticket: Ticket) -> None:
            ticket.ticket_type = self.ticket_type
            ticket.priority = self.priority
            ticket.subcategory = self.subcategory

    def classify(
        self,
        *,
        ticket_type: str,
        priority: str,
        subcategory: str | None,
        reason: str,
        by: Actor,
        at: datetime,
    ) -> None:
        """Change type, subcategory or priority, saying why (the SLA clocks recompute)."""
        self._refuse_when_closed("reclassification")
        if (ticket_type, priority, subcategory) == (
            self.ticket_type,
            self.priority,
            self.subcategory,
        ):
            raise TicketRuleBroken(
                "no-change",
                en="The ticket already has this type, priority and subcategory.",
                es="El ticket ya tiene este tipo, prioridad y subcategoría.",
            )
        self._trigger(
            self.Classified,
            by,
            at,
            ticket_type=ticket_type,
            priority=priority,
            subcategory=subcategory,
            previous_ticket_type=self.ticket_type,
            previous_priority=self.priority,
            reason=reason,
        )

    class Assigned(Event):
        agent_id: str
        agent_name: str
        support_level: int

        def apply(self, ticket: Ticket) -> None:
            ticket.assignee = {"id": self.agent_id, "name": self.agent_name}
            ticket.level = self.support_level

    def assign(
        self,
        *,
        agent_id: str,
        agent_name: str,
        support_level: int | None = None,
        by: Actor,
        at: datetime,
    ) -> None:
        """Give the ticket to an agent of its current support level.

        Changing the level is an escalation (with its reason and ETR), never a side effect of
        an assignment.
        """
        self._require_state("assignment", *OPEN_STATES)
        if support_level is not None and support_level != self.level:
            raise InvalidCommand(
                "level-needs-escalation",
                field="support_level",
                en=f"{self.case_number} is at level {self.level}; change the level by "
                "escalating (with a reason and an ETR), then assign.",
                es=f"El caso {self.case_number} está en el nivel {self.level}; cambie el nivel "
                "escalándolo (con motivo y ETR) y luego asígnelo.",
            )
        self._trigger(
            self.Assigned,
            by,
            at,
            agent_id=agent_id,
            agent_name=agent_name,
            support_level=support_level or self.level,
        )

    # -- working it ----------------------------------------------------------------------

    class InProgress(Event):
        def apply(self, ticket: Ticket) -> None:
            ticket.state = TicketState.IN_PROGRESS

    def start(self, *, by: Actor, at: datetime) -> None:
        """The assigned agent starts working (state: in progress)."""
        self._require_state("starting work", TicketState.OPEN)
        if self.assignee is None:
            raise TicketRuleBroken(
                "not-assigned",
                en=f"Assign {self.case_number} to an agent before starting work on it.",
                es=f"Asigne el caso {self.case_number} a un agente antes de empezar a trabajarlo.",
            )
        self._trigger(self.InProgress, by, at)

    class AgentReplied(Event):
        body: str
        public: bool

        def apply(self, ticket: Ticket) -> None:
            if self.public and ticket.first_public_reply_at is None:
                ticket.first_public_reply_at = self.timestamp

    def reply(self, *, body: str, public: bool, by: Actor, at: datetime) -> None:
        """An agent writes; the first public reply is the first response of the SLA."""
        self._refuse_when_closed("replies")
        self._trigger(self.AgentReplied, by, at, body=body, public=public)

    class AwaitingCustomer(Event):
        request: str

        def apply(self, ticket: Ticket) -> None:
            ticket.state = TicketState.AWAITING_CUSTOMER
            ticket.unanswered_attempts = 0

    def await_customer(self, *, request: str, by: Actor, at: datetime) -> None:
        """Ask the customer for information; the policy may pause clocks meanwhile."""
        self._require_state("waiting for the customer", TicketState.IN_PROGRESS)
        self._trigger(self.AwaitingCustomer, by, at, request=request)

    class ContactAttempted(Event):
        attempt: int
        channel: str
        note: str | None

        def apply(self, ticket: Ticket) -> None:
            ticket.unanswered_attempts = self.attempt

    def record_contact_attempt(
        self, *, channel: str, note: str | None, by: Actor, at: datetime
    ) -> int:
        """Record an unanswered attempt to get the information asked for (004); its number."""
        self._require_state("contact attempts", TicketState.AWAITING_CUSTOMER)
        attempt = self.unanswered_attempts + 1
        self._trigger(self.ContactAttempted, by, at, attempt=attempt, channel=channel, note=note)
        return attempt

    class CustomerReplied(Event):
        """Version 2 added attachments."""

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.setdefault("attachments", [])

        body: str
        channel: str
        attachments: list[dict[str, Any]]

        def apply(self, ticket: Ticket) -> None:
            ticket.attachments.extend(self.attachments)
            ticket.unanswered_attempts = 0
            if ticket.state is TicketState.AWAITING_CUSTOMER:
                ticket.state = TicketState.IN_PROGRESS

    def customer_reply(
        self,
        *,
        body: str,
        channel: str,
        by: Actor,
        at: datetime,
        attachments: list[dict[str, Any]] | None = None,
    ) -> None:
        """The customer writes back; on a resolved ticket this reopens it within the window."""
        self._refuse_when_closed("replies")
        if self.state is TicketState.RESOLVED:
            self.reopen(reason="Respuesta del cliente / customer replied", by=by, at=at)
        self._trigger(
            self.CustomerReplied,
            by,
            at,
            body=body,
            channel=channel,
            attachments=list(attachments or []),
        )

    class NoteAdded(Event):
        body: str

    def add_note(self, *, body: str, by: Actor, at: datetime) -> None:
        """An internal note; customers never see it."""
        self._trigger(self.NoteAdded, by, at, body=body)

    # -- escalation ------------------------------------------------------------------------

    class EtrUpdated(Event):
        etr: datetime
        note: str | None

        def apply(self, ticket: Ticket) -> None:
            ticket.etr = self.etr

    def update_etr(
        self,
        *,
        etr: datetime,
        note: str | None,
        by: Actor,
        at: datetime,
    ) -> None:
        """Refine the estimated time to recovery (002)."""
        self._require_state("a new ETR", *OPEN_STATES)
        self._require_future_etr(etr, at)
        self._trigger(self.EtrUpdated, by, at, etr=etr, note=note)

    class Escalated(Event):
        from_level: int
        to_level: int
        reason: str
        etr: datetime

        def apply(self, ticket: Ticket) -> None:
            ticket.level = self.to_level
            ticket.etr = self.etr

    def escalate(
        self,
        *,
        to_level: int,
        reason: str,
        etr: datetime,
        max_level: int,
        by: Actor,
        at: datetime,
    ) -> None:
        """Move the ticket up a support level, with an estimated time to recovery (002)."""
        self._require_state("escalation", *OPEN_STATES)
        if not self.level < to_level <= max_level:
            raise InvalidCommand(
                "bad-level",
                field="to_level",
                en=f"{self.case_number} is at level {self.level}; it can be escalated to a "
                f"level above it, up to {max_level}.",
                es=f"El caso {self.case_number} está en el nivel {self.level}; solo puede "
                f"escalarse a un nivel superior, hasta el {max_level}.",
            )
        self._require_future_etr(etr, at)
        self._trigger(
            self.Escalated,
            by,
            at,
            from_level=self.level,
            to_level=to_level,
            reason=reason,
            etr=etr,
        )

    def _require_future_etr(self, etr: datetime, at: datetime) -> None:
        if etr <= at:
            raise InvalidCommand(
                "etr-in-past",
                field="etr",
                en="The estimated time to recovery must be in the future.",
                es="El tiempo estimado de recuperación debe estar en el futuro.",
            )

    # -- resolution, reopening, closure ---------------------------------------------------

    class Resolved(Event):
        resolution: str
        summary: str
        reopen_until: datetime | None

        def apply(self, ticket: Ticket) -> None:
            ticket.state = TicketState.RESOLVED
            ticket.resolution = self.resolution
            ticket.reopen_until = self.reopen_until

    def resolve(
        self,
        *,
        resolution: str,
        summary: str,
        reopen_until: datetime | None,
        by: Actor,
        at: datetime,
    ) -> None:
        """A solution or workaround reached the customer, or the ticket was abandoned."""
        if resolution == "abandoned":
            self._require_state("resolution as abandoned", TicketState.AWAITING_CUSTOMER)
        else:
            self._require_state("resolution", *OPEN_STATES)
        self._trigger(
            self.Resolved,
            by,
            at,
            resolution=resolution,
            summary=summary,
            reopen_until=reopen_until,
        )

    class Reopened(Event):
        reason: str

        def apply(self, ticket: Ticket) -> None:
            ticket.state = TicketState.IN_PROGRESS if ticket.assignee else TicketState.OPEN
            ticket.resolution = None
            ticket.reopen_until = None
            ticket.reopen_count += 1

    def reopen(self, *, reason: str, by: Actor, at: datetime) -> None:
        """The customer says the solution did not work, within the policy's reopen window."""
        self._require_state("reopening", TicketState.RESOLVED)
        if self.reopen_until is not None and at > self.reopen_until:
            raise TicketRuleBroken(
                "reopen-window-over",
                en=f"The reopen window of {self.case_number} ended at "
                f"{self.reopen_until.isoformat()}: open a follow-up ticket.",
                es=f"El plazo para reabrir el caso {self.case_number} terminó el "
                f"{self.reopen_until.isoformat()}: abra un ticket de seguimiento.",
            )
        self._trigger(self.Reopened, by, at, reason=reason)

    class Closed(Event):
        closure: str
        note: str | None

        def apply(self, ticket: Ticket) -> None:
            ticket.state = TicketState.CLOSED
            ticket.closure = self.closure

    def close(self, *, closure: str, note: str | None, by: Actor, at: datetime) -> None:
        """Close for good: confirmed, expired, abandoned (004) or at the customer's request."""
        if closure == "customer_request":
            self._require_state("closure", *OPEN_STATES, TicketState.RESOLVED)
        elif closure == "abandoned":
            self._require_state(
                "closure as abandoned", TicketState.AWAITING_CUSTOMER, TicketState.RESOLVED
            )
        else:
            self._require_state("closure", TicketState.RESOLVED)
        self._trigger(self.Closed, by, at, closure=closure, note=note)

    # -- feature requests ------------------------------------------------------------------

    class FeatureRequestReviewed(Event):
        viable: bool
        cost_note: str | None
        target_release: str | None

        def apply(self, ticket: Ticket) -> None:
            ticket.feature_review = {
                "viable": self.viable,
                "cost_note": self.cost_note,
                "target_release": self.target_release,
                "decided_at": self.timestamp,
            }

    def review_feature_request(
        self,
        *,
        viable: bool,
        cost_note: str | None,
        target_release: str | None,
        by: Actor,
        at: datetime,
    ) -> None:
        """The product committee's decision on a new-feature request (000)."""
        self._refuse_when_closed("a feature review")
        if not self.feature_request:
            raise TicketRuleBroken(
                "not-a-feature-request",
                en=f"{self.case_number} is not a new-feature request.",
                es=f"El caso {self.case_number} no es una solicitud de nueva funcionalidad.",
            )
        if self.feature_review is not None:
            raise TicketRuleBroken(
                "already-reviewed",
                en=f"The committee already decided on {self.case_number}.",
                es=f"El comité ya decidió sobre el caso {self.case_number}.",
            )
        self._trigger(
            self.FeatureRequestReviewed,
            by,
            at,
            viable=viable,
            cost_note=cost_note,
            target_release=target_release,
        )
