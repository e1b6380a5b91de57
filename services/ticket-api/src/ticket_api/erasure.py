"""Erasing personal data: a contact on request, or one closed ticket when its policy's
retention period ends (ADR 23). One mechanism for both.

1. Destroy the data keys (``KeyRing.erase``): every sealed copy — the event store, the
   ``TICKETS`` stream, dead letters, backups — is unreadable from this instant.
2. Record the erasure on each ticket (``ticket.personal_data_erased``, who, when, why): the
   ticket list re-reads the ticket (its title and search terms become the placeholder), and
   sla-monitor and the notifier blank their own copies when the event reaches them.
3. Delete the tickets' attachment files.
4. For a contact: record ``ContactErased`` on the directory record (the proof; the contact
   stays inactive).

Every step skips what is already done, so asking twice, or again after a crash half-way,
finishes the work and reports what this call did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ticket_api.application import ConcurrentUpdate, TicketDesk, TicketNotFound
from ticket_api.attachments import AttachmentStore
from ticket_api.directory import Directory
from ticket_api.domain.directory import Contact
from ticket_api.domain.erasure import is_erased, mark_erased
from ticket_api.read_model import TicketFilter, TicketList

ELSEWHERE = [
    "sla-monitor: blanks its copies of these tickets when it handles ticket.personal_data_erased",
    "notifier: blanks its ticket views and the delivery log of these tickets, and cancels "
    "their pending deliveries, when it handles ticket.personal_data_erased",
    "TICKETS stream: holds only the sealed form, now unreadable",
]
"""What happens outside ticket-api, in each ticket's order, once the relay publishes."""


@dataclass
class ErasureReport:
    """What an erasure did, for the admin who asked (and the audit)."""

    tenant: str
    contact: str
    scope: str
    already_erased: bool = False
    keys_destroyed: int = 0
    tickets_marked: list[str] = field(default_factory=list)
    """Case numbers whose erasure was recorded by this call."""
    tickets_already_marked: int = 0
    attachments_deleted: int = 0
    ticket_list_rows: int = 0
    directory_record: str = "unchanged"
    elsewhere: list[str] = field(default_factory=lambda: list(ELSEWHERE))


class Erasure:
    """Erases a contact's personal data, or one closed ticket's."""

    def __init__(
        self,
        desk: TicketDesk,
        directory: Directory,
        attachments: AttachmentStore,
        ticket_list: TicketList,
    ) -> None:
        self.desk = desk
        self.directory = directory
        self.attachments = attachments
        self.ticket_list = ticket_list

    def contact_tickets(self, tenant: str, contact_id: str) -> list[UUID]:
        """Every ticket of the contact: those with a key of theirs, and those the ticket list
        knows (tickets stored plain before sealing existed have no key)."""
        found: dict[UUID, None] = {}
        contact_key = str(Contact.id_for(tenant, contact_id))
        for key_id in self.desk.keyring.keys_of(tenant, contact_id):
            if key_id != contact_key:
                found[UUID(key_id)] = None
        cursor = None
        while True:
            page = self.ticket_list.search(
                TicketFilter(tenant=tenant, contact=contact_id), limit=200, cursor=cursor
            )
            found.update((UUID(row["id"]), None) for row in page.rows)
            if (cursor := page.next_cursor) is None:
                return list(found)

    def erase_contact(
        self, tenant: str, contact_id: str, *, reason: str, by: dict[str, Any]
    ) -> ErasureReport:
        """Erase everything personal of a contact (``NotRegistered`` if unknown)."""
        contact = self.directory.contact(tenant, contact_id)
        report = ErasureReport(tenant, contact_id, "contact", already_erased=contact.is_erased)
        tickets = self.contact_tickets(tenant, contact_id)
        keys = list(self.desk.keyring.keys_of(tenant, contact_id))
        self._erase(report, tickets, keys, reason=reason, by=by)
        if not contact.is_erased:
            contact.erase(reason=reason, by=by)
            self.desk.save(contact)
            report.directory_record = "ContactErased recorded; the contact is inactive"
        return report

    def erase_ticket(self, ticket_id: UUID, *, reason: str, by: dict[str, Any]) -> ErasureReport:
        """Erase one ticket's personal data (its retention period ended)."""
        ticket = self.desk.ticket(ticket_id)
        report = ErasureReport(ticket.tenant, str(ticket.contact.get("id")), "retention")
        self._erase(report, [ticket_id], [str(ticket_id)], reason=reason, by=by)
        return report

    def _erase(
        self,
        report: ErasureReport,
        tickets: list[UUID],
        keys: list[str],
        *,
        reason: str,
        by: dict[str, Any],
    ) -> None:
        files = {a for ticket_id in tickets for a in self._attachments(ticket_id)}
        destroyed = self.desk.keyring.erase(
            keys, by=str(by.get("id")), tenant=report.tenant, contact_id=report.contact
        )
        report.keys_destroyed = len(destroyed)
        for ticket_id in tickets:
            case = self._mark(ticket_id, reason=reason, scope=report.scope, by=by)
            if case is None:
                report.tickets_already_marked += 1
            else:
                report.tickets_marked.append(case)
        report.attachments_deleted = sum(self.attachments.delete(a) for a in sorted(files))
        self.ticket_list.catch_up()
        report.ticket_list_rows = len(tickets)
        if not self.ticket_list.postgres:
            # FTS5 keeps a deleted row's terms in its segments until they are merged.
            with self.ticket_list.datastore.transaction(commit=True) as cursor:
                cursor.execute("INSERT INTO ticket_text (ticket_text) VALUES ('optimize')")

    def _mark(self, ticket_id: UUID, *, reason: str, scope: str, by: dict[str, Any]) -> str | None:
        """Record the erasure on the ticket; its case number, or None if already recorded."""
        for _ in range(3):  # a concurrent change to the ticket: read it again
            try:
                ticket = self.desk.ticket(ticket_id)
            except TicketNotFound:
                return None
            if is_erased(ticket):
                return None
            try:
                outcome = self.desk.change(
                    ticket_id,
                    lambda t, _policy, now: mark_erased(
                        t, reason=reason, scope=scope, by=by, at=now
                    ),
                )
            except ConcurrentUpdate:
                continue
            return outcome.ticket.case_number
        raise ConcurrentUpdate(str(ticket_id))

    def _attachments(self, ticket_id: UUID) -> set[str]:
        try:
            history = self.desk.history(ticket_id)
        except TicketNotFound:
            return set()
        return {
            str(a["id"])
            for event in history
            for a in getattr(event, "attachments", None) or []
            if isinstance(a, dict) and "id" in a
        }
