"""Sealing personal data where events meet storage, so the domain never sees ciphertext.

``SealingMapper`` is the ``eventsourcing`` library's mapper with one more step each way: on
the way to the store it seals an event's personal fields (``servicekit.personal_data``) under
the data key of the contact the event is about; on the way back it opens them, or fills in
the erased placeholders when the key is gone. The aggregates, the use cases and the read
model keep working with plain values and import nothing of this.

Which key: a ticket's events use the ticket's key (id = ticket id), a contact's directory
records the contact's key (id = the contact aggregate's id), the email index the key of the
contact it points to. ``TicketStore.save`` makes sure the key exists before the events are
mapped (``keys_needed``). An event written after its key was erased keeps no personal data at
all: its personal fields are stored as the placeholders.

The relay publishes the stored ciphertext as it is (``sealed_data``): a consumer opens exactly
the bytes this mapper wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from servicekit.personal_data import (
    SEALED,
    erase,
    seal,
    set_in_place,
    unseal,
)
from ticket_api.domain.directory import Contact, EmailAddress
from ticket_api.domain.ticket import Ticket
from ticket_api.keyring import KeyRing
from ticket_api.wire import event_name

CONTACT_FIELDS = ("details.name", "details.email", "details.phone", "reason")
"""Personal data in a contact's directory records (the reason of a deactivation is free
text about them)."""


def target(event: object) -> tuple[str, str, tuple[str, ...]] | None:
    """(name, key id, fields) of an event holding personal data; ``None`` if it holds none."""
    if isinstance(event, Ticket.Event):
        return event_name(event), str(event.originator_id), ()
    kind = type(event).__qualname__
    state = vars(event)
    if kind == "Contact.ContactErased":  # the proof stays readable
        return None
    if kind.startswith("Contact."):
        return kind, str(state["originator_id"]), CONTACT_FIELDS
    if kind == "EmailAddress.Claimed":
        key_id = str(Contact.id_for(state["tenant"], state["contact_id"]))
        return kind, key_id, ("email",)
    return None


def keys_needed(aggregate: Any) -> tuple[str, str, str] | None:
    """(key id, tenant, contact id) of the key an aggregate's new events are sealed with."""
    if isinstance(aggregate, Ticket):
        return str(aggregate.id), aggregate.tenant, str(aggregate.contact["id"])
    if isinstance(aggregate, Contact):
        return str(aggregate.id), aggregate.tenant, aggregate.contact_id
    if isinstance(aggregate, EmailAddress):
        contact = Contact.id_for(aggregate.tenant, aggregate.contact_id)
        return str(contact), aggregate.tenant, aggregate.contact_id
    return None


class SealingMapper(Mapper[UUID]):
    """The library's mapper, sealing personal fields on write and opening them on read."""

    keyring: KeyRing | None = None
    """Set by the store once its database is open (the library builds mappers first)."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        found = target(domain_event)
        if found is not None and self.keyring is not None:
            name, key_id, fields = found
            state = dict(vars(domain_event))
            key = self.keyring.data_key(key_id)
            if key is None:  # erased: keep nothing personal
                state = erase(name, state, fields)
            else:
                state = seal(name, state, key_id, key, fields)
            sealed = object.__new__(type(domain_event))
            object.__setattr__(sealed, "__dict__", state)
            domain_event = sealed
        return super().to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return self.open(stored_event)[0]

    def open(
        self, stored_event: StoredEvent, *, decrypt: bool = True
    ) -> tuple[Any, dict[str, Any] | None]:
        """The plain event, and the sealed box it was stored with (``None``: stored plain —
        written before sealing existed, or with nothing personal).

        ``decrypt=False`` (the relay) leaves the box closed and fills the personal fields with
        the erased placeholders: the rest of the event can be checked and published, and the
        box travels as stored, without any key being read."""
        event = super().to_domain_event(stored_event)
        state = vars(event)
        sealed = state.get(SEALED)
        if not isinstance(sealed, dict):
            return event, None
        if self.keyring is None:
            raise RuntimeError("the mapper has no key ring")
        key = self.keyring.data_key(sealed["key"]) if decrypt else None
        unseal(state, key, in_place=True)
        return event, sealed


def sealed_data(sealed: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """For ``wire_event``: the event's data carrying the stored ciphertext instead of its
    plain personal fields."""

    def carry(data: dict[str, Any]) -> dict[str, Any]:
        for path in sealed["paths"]:  # ``data`` is the envelope's own fresh copy
            set_in_place(data, path.split("."), None)
        data[SEALED] = sealed
        return data

    return carry


class LocalKeys:
    """Data keys straight from the ring, for a consumer inside ticket-api's process (tests,
    benchmarks): the ``KeySource`` a service reaches over HTTP with ``KeyClient``."""

    def __init__(self, keyring: KeyRing) -> None:
        self.keyring = keyring

    async def key(self, key_id: str) -> bytes | None:
        return self.keyring.data_key(key_id)
