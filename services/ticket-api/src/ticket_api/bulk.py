"""One command over many tickets: each item on its own, and the same answer on a repeat.

A bulk request is a list of ordinary commands, not a transaction: each item goes through the
desk's use case with its own ``If-Match``, is saved (or refused) on its own, and gets its own
result, so one stale or foreign ticket does not hold back the rest. Under an ``Idempotency-Key``
each item carries a key of its own (the request's key and the item's place), saved atomically
with the item's change, so a retry after a crash half-way applies nothing twice; and the
``BulkReceipt`` remembers every item's result, failures included (a refused item saves nothing
of its own), so a repeat is answered exactly as the first request was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import RecordConflictError

from ticket_api.application import IdempotencyKeyReused, TicketDesk
from ticket_api.commands import Idempotency, Outcome

MAX_ITEMS = 100
"""Items per bulk request: enough for a day's triage, small enough to answer in one request."""

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:supportdesk:ticket-api:bulk")

Result = dict[str, Any]
"""One item's result as stored: ``ticket``, ``status`` and the ticket or the problem."""


class BulkReceipt(Aggregate):
    """The results given to a bulk request sent with an ``Idempotency-Key``."""

    class Recorded(Aggregate.Created):
        fingerprint: str
        results: list[Result]

    def __init__(self, *, fingerprint: str, results: list[Result]) -> None:
        self.fingerprint = fingerprint
        self.results = results

    @staticmethod
    def id_for(principal: str, key: str) -> UUID:
        """Scoped by principal, like single commands' keys."""
        return uuid5(_NAMESPACE, f"bulk:{principal}:{key}")

    @classmethod
    def record(cls, idempotency: Idempotency, results: list[Result]) -> BulkReceipt:
        return cls._create(
            cls.Recorded,
            id=cls.id_for(idempotency.principal, idempotency.key),
            fingerprint=idempotency.fingerprint,
            results=results,
        )


def apply_to_each(
    desk: TicketDesk,
    tickets: Sequence[str],
    apply: Callable[[int, Idempotency | None], Outcome],
    refused: Callable[[Exception], Result | None],
    idempotency: Idempotency | None,
) -> tuple[list[Result], bool]:
    """Apply ``apply(index, item's idempotency)`` to each ticket; the results, and whether they
    are the stored answer to an earlier request.

    ``refused`` turns a refusal into the item's stored problem (None: not a refusal, e.g. the
    store is down — then the whole request fails and a retry finishes what is left).
    """
    if (earlier := _receipt(desk, idempotency)) is not None:
        return earlier, True
    results: list[Result] = []
    for index, ticket in enumerate(tickets):
        own = replace(idempotency, key=f"{idempotency.key}#{index}") if idempotency else None
        try:
            outcome = apply(index, own)
        except Exception as exc:
            problem = refused(exc)
            if problem is None:
                raise
            results.append({"ticket": ticket, **problem})
            continue
        changed = outcome.ticket
        results.append(
            {
                "ticket": ticket,
                "status": 200,
                "id": str(changed.id),
                "case_number": changed.case_number,
                "state": changed.state.value,
                "version": changed.version,
            }
        )
    if idempotency is not None:
        try:
            desk.save(BulkReceipt.record(idempotency, results))
        except RecordConflictError:  # the same request, running alongside, answered first
            if (earlier := _receipt(desk, idempotency)) is not None:
                return earlier, True
            raise
    return results, False


def _receipt(desk: TicketDesk, idempotency: Idempotency | None) -> list[Result] | None:
    if idempotency is None:
        return None
    try:
        receipt: object = desk.repository.get(
            BulkReceipt.id_for(idempotency.principal, idempotency.key)
        )
    except AggregateNotFoundError:
        return None
    assert isinstance(receipt, BulkReceipt)
    if receipt.fingerprint != idempotency.fingerprint:
        raise IdempotencyKeyReused(idempotency.key)
    return list(receipt.results)
