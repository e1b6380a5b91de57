"""The event store as the ticket desk uses it: every write checked, atomic and safe to retry.

long: the checks, idempotency, optimistic concurrency, case numbers and sealing all wrap
the one save every use case goes through; split, the atomicity of that save would span modules.

``TicketStore`` is the library's ``Application`` with the guarantees every use case relies on,
so that ``TicketDesk`` (application.py) holds only what the desk does:

- every new event is checked against the event contract before it is saved, so nothing is
  stored that the relay could not publish or a consumer could not store;
- ``Idempotency-Key``: a retry gets the first answer, the same key with another request is
  refused (``IdempotencyKeyReused``);
- ``If-Match``: a change to a ticket that moved on is refused (``StaleVersion``), and a lost
  race is ``ConcurrentUpdate``, never a half-written ticket;
- case numbers are gap-free and issued without making opens fight over one record (ADR 15).

The library's errors stop here: callers see only the domain's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import InfrastructureFactory, Mapper, RecordConflictError
from eventsourcing.utils import Environment
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from contracts.policy import SupportPolicy
from servicekit.clock import Clock, SystemClock
from ticket_api.commands import Idempotency, Outcome
from ticket_api.domain import erasure as _erasure  # noqa: F401  (registers its event)
from ticket_api.domain.errors import PolicyRuleBroken, UncarriableInput
from ticket_api.domain.records import (
    CaseNumber,
    CaseNumbers,
    IdempotencyRecord,
    parse_case_number,
)
from ticket_api.domain.ticket import Ticket
from ticket_api.keyring import DEVELOPMENT_MASTER_KEY, KeyRing, LocalMasterKey, MasterKey
from ticket_api.numbering import NoTurn, NumberingTurns
from ticket_api.recorders import KEY_ROWS, POSTGRES_TOPIC, SQLITE_TOPIC
from ticket_api.sealing import SealingMapper, keys_needed
from ticket_api.wire import Unpublishable, uncarriable_attribute, wire_event

tracer = trace.get_tracer("ticket_api")
log = logging.getLogger(__name__)

MAX_CASE_NUMBER_ATTEMPTS = 5
"""Saves tried per open: more than one only if a writer outside the turns (a replica of the
former version during an upgrade) took the number meanwhile."""
CASE_NUMBER_WAIT_SECONDS = 0.5
"""How long an open waits for its turn to number a ticket of its policy before a fast 503:
with the admission queue's wait (0.25 s) and the save itself, every open is answered, served
or refused, within a second — past that, clients give up and retry, adding load."""

Change = Callable[[Ticket, SupportPolicy, datetime], object]
"""One command applied to a loaded ticket, under its policy, at the desk's current time."""


class TicketNotFound(LookupError):
    """No ticket has this id or case number."""


class StaleVersion(Exception):
    """``If-Match`` named a version the ticket has moved past."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the ticket is at version {current}")
        self.current = current


class CaseNumbersBusy(Exception):
    """No case number could be issued in time (so many opens at once in one policy, or other
    replicas kept taking the next number); nothing was saved."""


class ConcurrentUpdate(Exception):
    """Another writer changed the ticket between our read and our write."""


class IdempotencyKeyReused(Exception):
    """The same ``Idempotency-Key`` came with a different request."""


class TicketStore(Application[UUID]):
    """Tickets and their bookkeeping records on the library's event store."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        policies: Mapping[str, SupportPolicy] | None = None,
        clock: Clock | None = None,
        case_number_wait: float = CASE_NUMBER_WAIT_SECONDS,
        master_key: MasterKey | None = None,
    ) -> None:
        super().__init__(env)
        # Personal data is sealed under keys wrapped by the master key (ADR 23); a wrong or
        # lost master key stops us here (MasterKeyMismatch), before anything is read.
        configured = self.env.get("TICKET_API_MASTER_KEY")
        if master_key is None and not configured:
            log.warning(
                "TICKET_API_MASTER_KEY is not set: personal data is sealed under the public "
                "development key; set it in every real deployment (ADR 23)"
            )
        self.keyring = KeyRing(
            self.recorder.datastore,  # type: ignore[attr-defined]
            master_key or LocalMasterKey(configured or DEVELOPMENT_MASTER_KEY),
        )
        assert isinstance(self.mapper, SealingMapper)
        self.mapper.keyring = self.keyring
        self.sealing: SealingMapper = self.mapper
        self.policies = dict(policies or {})
        self.clock = clock or SystemClock()
        self.store_system = (
            "postgresql" if "postgres" in str(self.env.get("PERSISTENCE_MODULE", "")) else "sqlite"
        )
        self.after_save: list[Callable[[], None]] = []
        """Called after each successful write (the outbox relay wakes up on it)."""
        self._turns = NumberingTurns(
            self.recorder.datastore,  # type: ignore[attr-defined]
            case_number_wait,
        )
        self._last_issued: dict[str, int] = {}
        """Per policy: the highest case number known to be taken (only ever an underestimate)."""

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        """The library's recorders, with the new aggregates' data keys written in the same
        transaction as their events (``recorders``); an explicit choice is kept."""
        module = str(env.get("PERSISTENCE_MODULE", ""))
        if not env.get("APPLICATION_RECORDER_TOPIC") and module.endswith(("sqlite", "postgres")):
            postgres = module.endswith("postgres")
            env["APPLICATION_RECORDER_TOPIC"] = POSTGRES_TOPIC if postgres else SQLITE_TOPIC
        return super().construct_factory(env)

    def construct_mapper(self) -> Mapper[UUID]:
        plain = super().construct_mapper()
        return SealingMapper(plain.transcoder, plain.compressor, plain.cipher)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Save after checking every new event against the event contract: every entry point
        (REST, email, SMTP, service commands) writes through here, so nothing is stored that
        the relay could not publish or a consumer could not store."""
        new_keys: dict[str, dict[str, Any]] = {}
        for obj in objs:
            self._check_carriable(obj)
            pending = getattr(obj, "pending_events", None)
            if not pending or (needed := keys_needed(obj)) is None:
                continue
            key_id, tenant, contact_id = needed
            if pending[0].originator_version == 1 and not self.keyring.known(key_id):
                # a new aggregate: its key is written with its first events, in one commit
                if key_id not in new_keys:
                    new_keys[key_id] = self.keyring.issue(
                        key_id, tenant=tenant, contact_id=contact_id
                    )
            else:
                self.keyring.ensure(key_id, tenant=tenant, contact_id=contact_id)
        if new_keys:
            kwargs[KEY_ROWS] = list(new_keys.values())
        with tracer.start_as_current_span(
            "event store save",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system": self.store_system,
                "db.operation.name": "INSERT",
                "supportdesk.aggregates": len(objs),
            },
        ):
            try:
                recordings = super().save(*objs, **kwargs)
            except BaseException:
                self.keyring.forget(list(new_keys))
                raise
        for listener in self.after_save:
            listener()
        return recordings

    @staticmethod
    def _check_carriable(aggregate: Any) -> None:
        try:
            for event in getattr(aggregate, "pending_events", ()):
                if isinstance(event, Ticket.Event):
                    wire_event(event, tenant=aggregate.tenant, policy=aggregate.policy)
                else:  # directory records and bookkeeping: stored, read back, never published
                    uncarriable_attribute(event)
        except Unpublishable as refused:
            raise UncarriableInput(
                "uncarriable-input",
                field=refused.field,
                en=f"The field {refused.field!r} cannot be stored: {refused.reason}. Remove "
                "control characters (such as NUL) and invalid characters, or shorten it.",
                es=f"El campo {refused.field!r} no se puede guardar: {refused.reason}. Quite "
                "los caracteres de control (como NUL) y los inválidos, o acórtelo.",
            ) from None

    # -- reading -----------------------------------------------------------------------------

    def policy(self, policy_id: str, at: datetime | None = None) -> SupportPolicy:
        """The version of a policy in force at ``at`` (now by default): a request is checked
        against the promise in force when it arrives."""
        try:
            return self.policies[policy_id].in_force(at or self.clock.now())
        except KeyError:
            raise PolicyRuleBroken(
                "unknown-policy",
                field="policy",
                en=f"There is no support policy {policy_id!r}; known: {', '.join(self.policies)}.",
                es=f"No existe la política de soporte {policy_id!r}; "
                f"disponibles: {', '.join(self.policies)}.",
            ) from None

    def ticket(self, ticket_id: UUID, version: int | None = None) -> Ticket:
        try:
            ticket: object = self.repository.get(ticket_id, version=version)
        except AggregateNotFoundError:
            raise TicketNotFound(str(ticket_id)) from None
        if not isinstance(ticket, Ticket):
            raise TicketNotFound(str(ticket_id))
        return ticket

    def ticket_id_for_case(self, case_number: str) -> UUID:
        """The ticket a case number (``BTW-000123``) was issued to."""
        parsed = parse_case_number(case_number)
        policy = next(
            (p for p in self.policies.values() if parsed and p.case_prefix == parsed[0]), None
        )
        if parsed is None or policy is None or parsed[1] < 1:
            raise TicketNotFound(case_number)
        number = parsed[1]
        events = list(self.events.get(CaseNumber.id_for(policy.id, number), limit=1))
        if not events:  # issued before ADR 15 by the policy's former sequence aggregate
            events = list(self.events.get(CaseNumbers.id_for(policy.id), gt=number - 1, lte=number))
        if not events:
            raise TicketNotFound(case_number)
        ticket_id: UUID = events[0].ticket_id  # type: ignore[attr-defined]
        return ticket_id

    def history(self, ticket_id: UUID) -> list[DomainEventProtocol[UUID]]:
        """Every event of the ticket, oldest first: the audit trail (004)."""
        events = list(self.events.get(ticket_id))
        if not events:
            raise TicketNotFound(str(ticket_id))
        return events

    # -- writing -----------------------------------------------------------------------------

    def save_numbered(
        self,
        policy: SupportPolicy,
        new_ticket: Callable[[UUID, int], Ticket],
        idempotency: Idempotency | None,
    ) -> Outcome:
        """Save the ticket ``new_ticket(id, case number)`` builds, with the next case number
        of its policy, in one write; or the first answer if this request was already served.

        One open at a time per policy: the next number is then known without a race, so opens
        queue briefly instead of colliding and redoing whole saves (ADR 15).
        """
        try:
            with self._turns.turn(policy.id):
                for _ in range(MAX_CASE_NUMBER_ATTEMPTS):
                    ticket_id = uuid4()
                    number = self._next_case_number(policy.id)
                    ticket = new_ticket(ticket_id, number)
                    issued = CaseNumber.issue(policy=policy.id, number=number, ticket_id=ticket_id)
                    try:
                        self.save(ticket, issued, *self._remember(idempotency, ticket))
                    except RecordConflictError:
                        # A retry of this very request won, or a writer outside the turns took
                        # the number.
                        if (replay := self.replay(idempotency)) is not None:
                            return replay
                        self._last_issued[policy.id] = number
                        continue
                    self._last_issued[policy.id] = number
                    return Outcome(ticket)
        except NoTurn:  # the turn did not come in time: refuse fast, nothing saved
            raise CaseNumbersBusy(policy.id) from None
        raise CaseNumbersBusy(policy.id)

    def _next_case_number(self, policy: str) -> int:
        """The lowest case number of the policy not yet issued.

        Issued numbers are always 1..n (each is saved with its ticket, or not at all), so "is
        k taken?" is true up to n and false after it: search upwards from the highest number
        known to be taken — usually one look-up, a few when other replicas have issued numbers
        meanwhile, about 2·log2(n) once after a restart.
        """
        taken = self._last_issued.get(policy)
        if taken is None:
            taken = self._numbers_issued_before_adr_15(policy)
        step = 1
        while self._is_issued(policy, taken + step):
            taken += step
            step *= 2
        free = taken + step
        while free - taken > 1:  # taken is issued (or 0), free is not: bisect between
            middle = (taken + free) // 2
            if self._is_issued(policy, middle):
                taken = middle
            else:
                free = middle
        self._last_issued[policy] = taken
        return free

    def _is_issued(self, policy: str, number: int) -> bool:
        return bool(self.recorder.select_events(CaseNumber.id_for(policy, number), limit=1))

    def _numbers_issued_before_adr_15(self, policy: str) -> int:
        """How many numbers the policy's former sequence aggregate issued (its version)."""
        last = self.recorder.select_events(CaseNumbers.id_for(policy), desc=True, limit=1)
        return last[0].originator_version if last else 0

    def change(
        self,
        ticket_id: UUID,
        command: Change,
        *,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
        authorize: Callable[[Ticket], None] | None = None,
    ) -> Outcome:
        """Apply one command to a ticket and save it, or change nothing at all.

        ``expected_version`` is the client's ``If-Match``: a stale one is refused rather than
        overwriting a change the client has not seen.
        """
        if (replay := self.replay(idempotency)) is not None:
            return replay
        ticket = self.ticket(ticket_id)
        if authorize is not None:
            authorize(ticket)  # e.g. a customer may act on their own tenant's tickets only
        if expected_version is not None and expected_version != ticket.version:
            raise StaleVersion(ticket.version)
        # the ticket lives under the policy version in force when it was opened
        command(ticket, self.policy(ticket.policy, at=ticket.created_on), self.clock.now())
        try:
            self.save(ticket, *self._remember(idempotency, ticket))
        except RecordConflictError:
            if (replay := self.replay(idempotency)) is not None:
                return replay
            raise ConcurrentUpdate(str(ticket_id)) from None
        return Outcome(ticket)

    # -- idempotency -------------------------------------------------------------------------

    def _remember(self, idempotency: Idempotency | None, ticket: Ticket) -> list[IdempotencyRecord]:
        if idempotency is None:
            return []
        return [
            IdempotencyRecord.record(
                principal=idempotency.principal,
                key=idempotency.key,
                fingerprint=idempotency.fingerprint,
                ticket_id=ticket.id,
                ticket_version=ticket.version,
            )
        ]

    def replay(self, idempotency: Idempotency | None) -> Outcome | None:
        """The first answer to this key, if there was one; a different request is refused."""
        if idempotency is None:
            return None
        try:
            record: object = self.repository.get(
                IdempotencyRecord.id_for(idempotency.principal, idempotency.key)
            )
        except AggregateNotFoundError:
            return None
        assert isinstance(record, IdempotencyRecord)
        if record.fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused(idempotency.key)
        return Outcome(self.ticket(record.ticket_id, version=record.ticket_version), replayed=True)
