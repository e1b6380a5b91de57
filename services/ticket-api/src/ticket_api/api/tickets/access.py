"""Who may see a ticket, and for whom a principal may open one: the REST side of access.

A principal sees the tickets of the tenants it serves; anything else is "not found", never
"forbidden", so a case number does not reveal that another tenant's ticket exists. Customers
open tickets for their own company and as themselves; staff and services name a registered
contact of a tenant they serve. (Which role may ask for which command is declared by each
view, with ``Principal.require``.)
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ticket_api.api.principals import STAFF, Principal
from ticket_api.api.problems import Problem
from ticket_api.api.tickets import models as m
from ticket_api.application import TicketDesk, TicketNotFound
from ticket_api.directory import Directory, Holder
from ticket_api.domain.errors import AccessRefused, NotRegistered, RequestRefused
from ticket_api.domain.ticket import Ticket

SERVICE = "service"

CLOSERS = {
    "confirmed": ("customer", *STAFF),
    "customer_request": ("customer", *STAFF),
    "expired": (*STAFF, SERVICE),
    "abandoned": (*STAFF, SERVICE),
}
"""Who may close a ticket, per closure: expiry and abandonment also by sla-monitor's timers."""


def ticket_id(app: TicketDesk, ticket_ref: str) -> UUID:
    """The id behind a reference: a UUID, or a case number such as ``BTW-000123``."""
    try:
        return UUID(ticket_ref)
    except ValueError:
        return app.ticket_id_for_case(ticket_ref.upper())


def visible(app: TicketDesk, principal: Principal, ticket_ref: str) -> Ticket:
    """The ticket by id or case number, if this principal may see it (else: not found)."""
    ticket = app.ticket(ticket_id(app, ticket_ref))
    check_visible(principal, ticket, ticket_ref)
    return ticket


def check_visible(principal: Principal, ticket: Ticket, ticket_ref: str) -> None:
    if not principal.may_see(ticket.tenant):
        raise TicketNotFound(ticket_ref)


def opening_for(
    principal: Principal, body: m.OpenTicket, directory: Directory
) -> tuple[str, dict[str, Any]]:
    """The tenant and contact a new ticket is for, once the principal may open it there (and
    the tenant has contracted the policy and, if named, the space)."""
    if principal.is_customer:
        if body.tenant not in (None, principal.tenant):
            raise Problem(
                403,
                "other-tenant",
                en="Customers open tickets for their own company.",
                es="Los clientes solo abren tickets de su propia empresa.",
            )
        if body.contact not in (None, principal.id):
            raise Problem(
                403,
                "other-contact",
                en="Customers open tickets as themselves.",
                es="Los clientes abren tickets a su propio nombre.",
            )
        holder = Holder("customer", principal.id, tenant=principal.tenant)
    else:
        principal.require(*STAFF, SERVICE, doing="open tickets")
        if body.tenant is None or body.contact is None:
            raise Problem(
                422,
                "tenant-and-contact-required",
                en="Staff opening a ticket must give tenant and contact (a registered "
                "contact's id).",
                es="Al abrir un ticket en nombre de un cliente indique tenant y contact (el id de "
                "un contacto registrado).",
            )
        if not principal.may_see(body.tenant):
            raise Problem(
                403,
                "tenant-not-served",
                en=f"You do not serve {body.tenant!r}.",
                es=f"Usted no atiende a {body.tenant!r}.",
            )
        try:
            holder = directory.resolve("customer", body.contact, body.tenant)
        except AccessRefused:
            raise
        except NotRegistered as missing:
            raise RequestRefused(
                missing.code, field="contact", en=missing.en, es=missing.es
            ) from None
    directory.check_may_open(holder, policy=body.policy, space=body.space)
    contact = (principal.contact if principal.is_customer else holder.contact) or {}
    return holder.tenant or "", contact
