"""Small aggregates that keep the ticket desk's promises to its clients.

``CaseNumber``: one per issued case number, saved in the same atomic write as the ticket it
numbers. Its id is derived from (policy, number), so two writers claiming one number cannot both
succeed (the store's uniqueness rule refuses the second), a failed write leaves no number behind
(gap-free), and a case number leads back to its ticket by reading one event (ADR 15).

``CaseNumbers``: the former design, one sequence aggregate per policy whose nth event issued
number n. Every open wrote to it, so it was one hot aggregate that concurrent writers fought over;
it is no longer written, only read, so the numbers it issued keep leading to their tickets.

``IdempotencyRecord``: what a command with an ``Idempotency-Key`` did, saved with its effects,
so that a retried request gets the same answer and nothing happens twice.
"""

from __future__ import annotations

import re
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:supportdesk:ticket-api")


class CaseNumber(Aggregate):
    """Case number ``number`` of a policy, issued to one ticket."""

    class Issued(Aggregate.Created):
        policy: str
        number: int
        ticket_id: UUID

    def __init__(self, *, policy: str, number: int, ticket_id: UUID) -> None:
        self.policy = policy
        self.number = number
        self.ticket_id = ticket_id

    @staticmethod
    def id_for(policy: str, number: int) -> UUID:
        return uuid5(_NAMESPACE, f"case-number:{policy}:{number}")

    @classmethod
    def issue(cls, *, policy: str, number: int, ticket_id: UUID) -> CaseNumber:
        """Claim the number for the ticket; saving it fails if the number is already taken."""
        return cls._create(
            cls.Issued,
            id=cls.id_for(policy, number),
            policy=policy,
            number=number,
            ticket_id=ticket_id,
        )


class CaseNumbers(Aggregate):
    """The former case-number sequence of one policy (read only): its version is the last
    number it issued, its nth event names the ticket that got number n."""

    class FirstIssued(Aggregate.Created):
        policy: str
        prefix: str
        ticket_id: UUID

    class Issued(Aggregate.Event):
        ticket_id: UUID

    def __init__(self, *, policy: str, prefix: str, ticket_id: UUID) -> None:
        self.policy = policy
        self.prefix = prefix

    @staticmethod
    def id_for(policy: str) -> UUID:
        return uuid5(_NAMESPACE, f"case-numbers:{policy}")

    @classmethod
    def start(cls, *, policy: str, prefix: str, ticket_id: UUID) -> CaseNumbers:
        """The sequence of a policy's first ticket, which gets number 1."""
        return cls._create(
            cls.FirstIssued,
            id=cls.id_for(policy),
            policy=policy,
            prefix=prefix,
            ticket_id=ticket_id,
        )

    def issue(self, ticket_id: UUID) -> None:
        """Give the next number to a ticket."""
        self.trigger_event(self.Issued, ticket_id=ticket_id)

    @property
    def last_case_number(self) -> str:
        return format_case_number(self.prefix, self.version)


def format_case_number(prefix: str, number: int) -> str:
    return f"{prefix}-{number:06d}"


_CASE_NUMBER = re.compile(r"([A-Z][A-Z0-9]{1,9})-(\d{6,12})", re.ASCII)


def parse_case_number(case_number: str) -> tuple[str, int] | None:
    """``'BTW-000123'`` → ``('BTW', 123)``; None when it is not a case number."""
    match = _CASE_NUMBER.fullmatch(case_number)
    if match is None:
        return None
    prefix, digits = match.groups()
    if len(digits) > 6 and digits.startswith("0"):
        return None  # BTW-0000123 is not another spelling of BTW-000123
    return prefix, int(digits)


class IdempotencyRecord(Aggregate):
    """The outcome of a request sent with an ``Idempotency-Key``: which ticket, at which version.

    A retry is answered by reading the ticket as it was at that version, so the client gets the
    first response again even if the ticket has moved on since.
    """

    class Recorded(Aggregate.Created):
        fingerprint: str
        ticket_id: UUID
        ticket_version: int

    def __init__(self, *, fingerprint: str, ticket_id: UUID, ticket_version: int) -> None:
        self.fingerprint = fingerprint
        self.ticket_id = ticket_id
        self.ticket_version = ticket_version

    @staticmethod
    def id_for(principal: str, key: str) -> UUID:
        """Keys are scoped by principal: two clients may use the same key."""
        return uuid5(_NAMESPACE, f"idempotency:{principal}:{key}")

    @classmethod
    def record(
        cls, *, principal: str, key: str, fingerprint: str, ticket_id: UUID, ticket_version: int
    ) -> IdempotencyRecord:
        return cls._create(
            cls.Recorded,
            id=cls.id_for(principal, key),
            fingerprint=fingerprint,
            ticket_id=ticket_id,
            ticket_version=ticket_version,
        )
