"""What the ticket desk does: one method per use case, whoever asks.

REST views, email intake and sla-monitor's commands (which arrive over REST) all call these
methods, so a use case is written once. Each takes a small command (``ticket_api.commands``)
and the ``Caller`` (who asks, with the request's ``Idempotency-Key``, ``If-Match`` and trace)
and returns an ``Outcome``: the ticket, and whether it is the replayed answer to a retry.

Where each rule lives: the ticket's own lifecycle in the aggregate (``domain/ticket.py``);
what a policy allows of a request in ``intake.py``; the policy's numbers and windows (highest
level, reopen window, how mail is filed) in ``contracts.policy.SupportPolicy``; the store's
guarantees (contract-checked, idempotent, atomic, gap-free case numbers) in ``ticket_store``.
A method here only puts them together. Who may call a use case is the entry point's business
(REST: the principal's role and tenants; email: the sender must be a registered contact).
The caller's trace context reaches the events it causes through ``domain.tracing``: ``open``
and ``_on`` set it for the length of the use case, so no aggregate method takes it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from contracts.policy import SupportPolicy
from ticket_api.commands import (
    Assign,
    AwaitCustomer,
    Caller,
    Close,
    ContactAttempt,
    Escalate,
    FeatureReview,
    Idempotency,
    Note,
    OpenTicket,
    Outcome,
    Reclassify,
    Reopen,
    Reply,
    Resolve,
    UpdateEtr,
)
from ticket_api.domain.records import format_case_number
from ticket_api.domain.ticket import Actor, Ticket
from ticket_api.domain.tracing import Trace, tracing
from ticket_api.intake import Classification, check_contact, check_open_request
from ticket_api.intake import check_reclassification as reclassification
from ticket_api.ticket_store import (
    CaseNumbersBusy,
    Change,
    ConcurrentUpdate,
    IdempotencyKeyReused,
    StaleVersion,
    TicketNotFound,
    TicketStore,
)

__all__ = [  # the desk's vocabulary, importable from one place
    "CaseNumbersBusy",
    "ConcurrentUpdate",
    "Idempotency",
    "IdempotencyKeyReused",
    "Outcome",
    "StaleVersion",
    "TicketDesk",
    "TicketNotFound",
]


class TicketDesk(TicketStore):
    """The ticket-api application: the only writer of tickets."""

    name = "TicketDesk"

    # -- opening -----------------------------------------------------------------------------

    def open(self, command: OpenTicket, caller: Caller) -> Outcome:
        """Register a request as a ticket, with the next case number of its policy.

        The policy decides the priority (a subcategory implies one) and which intake fields
        count; the contact's agreed channel must be one it offers; a follow-up continues a
        ticket of the same tenant only.
        """
        if (replay := self.replay(caller.idempotency)) is not None:
            return replay
        policy = self.policy(command.policy)
        checked = check_open_request(
            policy,
            ticket_type=command.ticket_type,
            priority=command.priority,
            subcategory=command.subcategory,
            category=command.category,
            product=command.product,
            product_version=command.product_version,
            modality=command.modality,
            intake=command.intake or {},
            require_intake=command.require_intake,
        )
        check_contact(policy, command.contact)
        if command.follow_up_of is not None:
            previous = self.ticket(command.follow_up_of)
            if previous.tenant != command.tenant:
                raise TicketNotFound(str(command.follow_up_of))
        details = {
            **command.recorded(),
            "priority": checked.priority,
            "intake": checked.intake,
            "attachments": list(command.attachments or []),
            "feature_request": policy.ticket_type(command.ticket_type).sla_exempt,
        }
        with tracing(caller.trace):
            return self.save_numbered(
                policy,
                lambda ticket_id, number: Ticket.open(
                    id=ticket_id,
                    by=caller.actor,
                    at=self.clock.now(),
                    case_number=format_case_number(policy.case_prefix, number),
                    **details,
                ),
                caller.idempotency,
            )

    def open_ticket(
        self,
        *,
        by: Actor,
        trace: Trace | None = None,
        idempotency: Idempotency | None = None,
        **fields: Any,
    ) -> Outcome:
        """``open`` with the fields of ``OpenTicket`` as keywords, for scripts and tests."""
        return self.open(OpenTicket(**fields), Caller(by, trace, idempotency))

    # -- working a ticket --------------------------------------------------------------------

    def assign(self, ticket_id: UUID, command: Assign, caller: Caller) -> Outcome:
        """Give the ticket to an agent of its current level (changing levels is escalating)."""
        return self._on(
            ticket_id,
            caller,
            lambda ticket, policy, now: ticket.assign(
                agent_id=command.agent_id,
                agent_name=command.agent_name,
                support_level=command.support_level,
                by=caller.actor,
                at=now,
            ),
        )

    def start(self, ticket_id: UUID, caller: Caller) -> Outcome:
        """The assigned agent starts working on it."""
        return self._on(
            ticket_id,
            caller,
            lambda ticket, policy, now: ticket.start(by=caller.actor, at=now),
        )

    def reply(self, ticket_id: UUID, command: Reply, caller: Caller) -> Outcome:
        """A reply, by the customer (any channel: portal, email...) or by an agent.

        Who writes decides what it is: the customer's answer resumes a ticket awaiting them and
        reopens a resolved one within its window; an agent's public reply is the first response
        of the SLA, an internal one is not.
        """

        def write(ticket: Ticket, policy: SupportPolicy, now: Any) -> None:
            if caller.is_customer:
                ticket.customer_reply(
                    body=command.body,
                    channel=command.channel,
                    attachments=command.attachments,
                    by=caller.actor,
                    at=now,
                )
            else:
                ticket.reply(
                    body=command.body,
                    public=command.public,
                    by=caller.actor,
                    at=now,
                )

        return self._on(ticket_id, caller, write)

    def await_customer(self, ticket_id: UUID, command: AwaitCustomer, caller: Caller) -> Outcome:
        """Ask the customer for information; the policy may pause clocks meanwhile."""
        return self._on(
            ticket_id,
            caller,
            lambda ticket, policy, now: ticket.await_customer(
                request=command.request, by=caller.actor, at=now
            ),
        )

    def record_contact_attempt(
        self, ticket_id: UUID, command: ContactAttempt, caller: Caller
    ) -> Outcome:
        """An unanswered attempt to get the information asked for (the policy's Nth closes)."""
        return self._on(
            ticket_id,
            caller,
            lambda ticket, policy, now: ticket.record_contact_attempt(
                channel=command.channel,
                note=command.note,
                by=caller.actor,
                at=now,
            ),
        )

    def reclassify(self, ticket_id: UUID, command: Reclassify, caller: Caller) -> Outcome:
        """Change type, subcategory or priority, completed and checked by ``intake``'s rules."""

        def classify(ticket: Ticket, policy: SupportPolicy, now: Any) -> None:
            chosen = reclassification(
                policy,
                Classification(ticket.ticket_type, ticket.priority, ticket.subcategory),
                ticket_type=command.ticket_type,
                priority=command.priority,
                subcategory=command.subcategory,
            )
            ticket.classify(
                ticket_type=chosen.ticket_type,
                priority=chosen.priority,
                subcategory=chosen.subcategory,
                reason=command.reason,
                by=caller.actor,
                at=now,
            )

        return self._on(ticket_id, caller, classify)

    def escalate(self, ticket_id: UUID, command: Escalate, caller: Caller) -> Outcome:
        """Move the ticket up, at most to its policy's highest level, with an ETR (002)."""
        return self._on(
            ticket_id,
            caller,
            lambda ticket, policy, now: ticket.escalate(
                to_level=command.to_level,
                reason=command.reason,
                etr=command.etr,
                max_level=policy.highest_level(),
                by=caller.actor,
                at=now,
            ),
        )

    def update_etr(self, ticket_id: UUID, command: UpdateEtr, caller: Caller) -> Outcome:
        """Refine the estimated time to recovery."""
        return self._on(
            ticket_id,
            caller,
            lambda ticket, policy, now: ticket.update_etr(
                etr=command.etr, note=command.note, by=caller.actor, at=now
            ),
        )

    def add_note(self, ticket_id: UUID, command: Note, caller: Caller) -> Outcome:
        """An internal note; customers never see it."""
        return self._on(
            ticket_id,
            caller,
            lambda ticket, policy, now: ticket.add_note(body=command.body, by=caller.actor, at=now),
        )

    def review_feature_request(
        self, ticket_id: UUID, command: FeatureReview, caller: Caller
    ) -> Outcome:
        """The product committee's decision on a new-feature request (000)."""
        return self._on(
            ticket_id,
            caller,
            lambda ticket, policy, now: ticket.review_feature_request(
                viable=command.viable,
                cost_note=command.cost_note,
                target_release=command.target_release,
                by=caller.actor,
                at=now,
            ),
        )

    # -- ending it ---------------------------------------------------------------------------

    def resolve(self, ticket_id: UUID, command: Resolve, caller: Caller) -> Outcome:
        """A solution or workaround reached the customer, or they abandoned the ticket; it may
        be reopened until the end of the policy's reopen window, counted from now."""
        return self._on(
            ticket_id,
            caller,
            lambda ticket, policy, now: ticket.resolve(
                resolution=command.resolution,
                summary=command.summary,
                reopen_until=policy.reopen_until(now, ticket.modality),
                by=caller.actor,
                at=now,
            ),
        )

    def reopen(self, ticket_id: UUID, command: Reopen, caller: Caller) -> Outcome:
        """The solution did not work: reopen, within the window set when it was resolved."""
        return self._on(
            ticket_id,
            caller,
            lambda ticket, policy, now: ticket.reopen(
                reason=command.reason, by=caller.actor, at=now
            ),
        )

    def close_ticket(self, ticket_id: UUID, command: Close, caller: Caller) -> Outcome:
        """Close for good (a closed ticket never reopens: a follow-up continues it). Not
        ``close``: that is the library's, closing the event store's connections."""
        return self._on(
            ticket_id,
            caller,
            lambda ticket, policy, now: ticket.close(
                closure=command.closure,
                note=command.note,
                by=caller.actor,
                at=now,
            ),
        )

    def _on(self, ticket_id: UUID, caller: Caller, command: Change) -> Outcome:
        """Apply ``command`` to the ticket; its events carry the caller's trace context."""
        with tracing(caller.trace):
            return self.change(
                ticket_id,
                command,
                expected_version=caller.expected_version,
                idempotency=caller.idempotency,
                authorize=caller.authorize,
            )
