"""Use cases of the directory: tenants, spaces, contacts, staff and API keys.

A thin service over the ticket desk's event store (the same ``save`` and repository), so a
contact's registration and its email's claim are saved in one atomic write, and every change
records who made it. Also answers the questions authentication and ticket intake ask: who
holds this key, who owns this address, may this contact open a ticket under this policy.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, RecordConflictError

from ticket_api.application import TicketDesk
from ticket_api.domain.directory import (
    ALL_TENANTS,
    ApiKey,
    Contact,
    EmailAddress,
    Registry,
    StaffMember,
    Tenant,
)
from ticket_api.domain.errors import AccessRefused, NotRegistered, TicketRuleBroken

A = TypeVar("A", bound=Aggregate)
STAFF_ROLES = ("agent", "supervisor", "admin")
KEY_PREFIX = "sdk"


@dataclass(frozen=True)
class Holder:
    """Who an API key or token acts for, resolved against the directory."""

    kind: str
    id: str
    name: str | None = None
    tenant: str | None = None
    tenants: tuple[str, ...] = ()
    """For agents: the tenants they serve (``*``: all)."""
    contact: dict[str, Any] | None = None
    """For customers: the contact as tickets record it."""


class Directory:
    def __init__(self, desk: TicketDesk) -> None:
        self.desk = desk

    # -- reading --------------------------------------------------------------------------

    def _get(self, cls: type[A], aggregate_id: Any) -> A | None:
        try:
            found: object = self.desk.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(found, cls)
        return found

    def tenant(self, slug: str) -> Tenant:
        tenant = self._get(Tenant, Tenant.id_for(slug))
        if tenant is None:
            raise NotRegistered(
                "tenant-not-registered",
                en=f"There is no customer organization {slug!r}.",
                es=f"No existe la organización cliente {slug!r}.",
            )
        return tenant

    def contact(self, tenant: str, contact_id: str) -> Contact:
        contact = self._get(Contact, Contact.id_for(tenant, contact_id))
        if contact is None:
            raise NotRegistered(
                "contact-not-registered",
                en=f"{contact_id!r} is not a registered contact of {tenant!r}.",
                es=f"{contact_id!r} no es un contacto registrado de {tenant!r}.",
            )
        return contact

    def contact_by_email(self, email: str) -> Contact | None:
        owner = self._get(EmailAddress, EmailAddress.id_for(email))
        if owner is None:
            return None
        return self._get(Contact, Contact.id_for(owner.tenant, owner.contact_id))

    def staff(self, staff_id: str) -> StaffMember:
        member = self._get(StaffMember, StaffMember.id_for(staff_id))
        if member is None:
            raise NotRegistered(
                "staff-not-registered",
                en=f"{staff_id!r} is not registered staff.",
                es=f"{staff_id!r} no es personal registrado.",
            )
        return member

    def registry(self) -> Registry:
        return self._get(Registry, Registry.ID) or Registry.start()

    def tenants(self) -> list[Tenant]:
        return [self.tenant(slug) for slug in self.registry().tenants]

    def contacts(self, tenant: str) -> list[Contact]:
        return [self.contact(tenant, c) for c in self.tenant(tenant).contacts]

    # -- writing --------------------------------------------------------------------------

    def _save_new(self, what: str, *aggregates: Aggregate) -> None:
        try:
            self.desk.save(*aggregates)
        except (RecordConflictError, IntegrityError) as exc:
            raise TicketRuleBroken(
                "already-registered",
                en=f"{what} is already registered.",
                es=f"{what} ya está registrado.",
            ) from exc

    def register_tenant(
        self, *, slug: str, name: str, policies: list[str], by: dict[str, Any]
    ) -> Tenant:
        for policy in policies:
            self.desk.policy(policy)  # an unknown policy is refused, naming it
        tenant = Tenant.register(slug=slug, name=name, policies=policies, by=by)
        registry = self.registry()
        registry.list_tenant(slug)
        self._save_new(f"The organization {slug!r}", tenant, registry)
        return tenant

    def change_tenant(self, slug: str, *, by: dict[str, Any], **changes: Any) -> Tenant:
        tenant = self.tenant(slug)
        if "name" in changes or "policies" in changes:
            for policy in changes.get("policies") or []:
                self.desk.policy(policy)
            tenant.change(
                name=changes.get("name") or tenant.name,
                policies=tenant.policies
                if changes.get("policies") is None
                else changes["policies"],
                by=by,
            )
        if changes.get("active") is False and tenant.active:
            tenant.deactivate(reason=changes.get("reason") or "", by=by)
        elif changes.get("active") is True and not tenant.active:
            tenant.reactivate(by=by)
        self.desk.save(tenant)
        return tenant

    def contract_space(
        self, slug: str, *, space: str, name: str, contact_id: str, by: dict[str, Any]
    ) -> Tenant:
        tenant = self.tenant(slug)
        contact = self.contact(slug, contact_id)
        if not contact.active:
            raise AccessRefused(
                "contact-inactive",
                en=f"{contact_id!r} is inactive and cannot be a space's support contact.",
                es=f"{contact_id!r} está inactivo y no puede ser el contacto de un espacio.",
            )
        tenant.contract_space(space=space, name=name, contact=contact_id, by=by)
        self.desk.save(tenant)
        return tenant

    def end_space(self, slug: str, *, space: str, by: dict[str, Any]) -> Tenant:
        tenant = self.tenant(slug)
        if space not in tenant.spaces:
            raise NotRegistered(
                "space-not-contracted",
                en=f"{slug!r} has no space {space!r}.",
                es=f"{slug!r} no tiene el espacio {space!r}.",
            )
        tenant.end_space(space=space, by=by)
        self.desk.save(tenant)
        return tenant

    def register_contact(
        self, tenant: str, *, contact_id: str, details: dict[str, Any], by: dict[str, Any]
    ) -> Contact:
        organization = self.tenant(tenant)
        if self.contact_by_email(details["email"]) is not None:
            raise TicketRuleBroken(
                "email-taken",
                en=f"{details['email']} already belongs to a registered contact.",
                es=f"{details['email']} ya pertenece a un contacto registrado.",
            )
        contact = Contact.register(tenant=tenant, contact_id=contact_id, details=details, by=by)
        claim = EmailAddress.claim(email=details["email"], tenant=tenant, contact_id=contact_id)
        organization.add_contact(contact_id=contact_id, by=by)
        self._save_new(f"The contact {contact_id!r}", contact, claim, organization)
        return contact

    def change_contact(
        self, tenant: str, contact_id: str, *, by: dict[str, Any], **changes: Any
    ) -> Contact:
        contact = self.contact(tenant, contact_id)
        details = {k: v for k, v in changes.items() if k not in ("active", "reason", "email")}
        if details:
            contact.change(details=details, by=by)
        if changes.get("active") is False and contact.active:
            contact.deactivate(reason=changes.get("reason") or "", by=by)
        elif changes.get("active") is True and not contact.active:
            contact.reactivate(by=by)
        self.desk.save(contact)
        return contact

    def register_staff(
        self,
        *,
        staff_id: str,
        role: str,
        name: str,
        email: str | None,
        tenants: list[str],
        by: dict[str, Any],
    ) -> StaffMember:
        member = StaffMember.register(
            staff_id=staff_id, role=role, name=name, email=email, tenants=tenants, by=by
        )
        registry = self.registry()
        registry.list_staff(staff_id)
        self._save_new(f"The staff member {staff_id!r}", member, registry)
        return member

    # -- keys -----------------------------------------------------------------------------

    def issue_key(self, *, holder: Holder, label: str, by: dict[str, Any]) -> tuple[ApiKey, str]:
        """A new key for a registered holder; the plain key is returned once, never stored."""
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        stored = {"kind": holder.kind, "id": holder.id}
        if holder.tenant:
            stored["tenant"] = holder.tenant
        key = ApiKey.issue(key_id=key_id, secret=secret, holder=stored, label=label, by=by)
        self._save_new(f"The key {key_id}", key)
        return key, f"{KEY_PREFIX}_{key_id}_{secret}"

    def key(self, key_id: str) -> ApiKey:
        key = self._get(ApiKey, ApiKey.id_for(key_id))
        if key is None:
            raise NotRegistered(
                "key-not-found",
                en=f"There is no key {key_id!r}.",
                es=f"No existe la clave {key_id!r}.",
            )
        return key

    def revoke_key(self, key_id: str, *, by: dict[str, Any]) -> ApiKey:
        key = self.key(key_id)
        if not key.revoked:
            key.revoke(by=by)
            self.desk.save(key)
        return key

    def key_holder(self, presented: str) -> dict[str, str] | None:
        """The holder of a presented key, or None (unknown, malformed or revoked)."""
        prefix, _, rest = presented.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != KEY_PREFIX or not key_id or not secret or len(presented) > 200:
            return None
        key = self._get(ApiKey, ApiKey.id_for(key_id))
        if key is None or not key.matches(secret):
            return None
        return dict(key.holder)

    # -- who is calling -------------------------------------------------------------------

    def resolve(self, kind: str, holder_id: str, tenant: str | None = None) -> Holder:
        """The live holder behind a key or token; refused when no longer allowed in."""
        if kind == "customer":
            contact = self.contact(tenant or "", holder_id)
            organization = self.tenant(contact.tenant)
            if not organization.active:
                raise AccessRefused(
                    "tenant-inactive",
                    en=f"Support for {organization.name} is not active.",
                    es=f"El soporte de {organization.name} no está activo.",
                )
            if not contact.active:
                raise AccessRefused(
                    "contact-inactive",
                    en="This contact is no longer authorized to ask for support.",
                    es="Este contacto ya no está autorizado para solicitar soporte.",
                )
            return Holder(
                kind,
                holder_id,
                contact.details.get("name"),
                tenant=contact.tenant,
                contact=contact.as_ticket_contact(),
            )
        if kind in STAFF_ROLES:
            member = self.staff(holder_id)
            if not member.active:
                raise AccessRefused(
                    "staff-inactive",
                    en="This staff member is no longer active.",
                    es="Este miembro del personal ya no está activo.",
                )
            tenants = (ALL_TENANTS,) if member.role != "agent" else tuple(member.tenants)
            return Holder(member.role, holder_id, member.name, tenants=tenants)
        return Holder(kind, holder_id, holder_id, tenants=(ALL_TENANTS,))

    def check_may_open(self, holder: Holder, *, policy: str, space: str | None) -> None:
        """Only an authorized contact of an active tenant opens tickets (000, 004)."""
        organization = self.tenant(holder.tenant or "")
        if not organization.may_use(policy):
            raise AccessRefused(
                "policy-not-contracted",
                en=f"{organization.name} has not contracted support under {policy!r}.",
                es=f"{organization.name} no tiene contratado soporte bajo {policy!r}.",
            )
        if not organization.spaces:
            return
        authorized = organization.authorized_spaces(holder.id)
        if not authorized:
            raise AccessRefused(
                "not-the-space-contact",
                en="Only each contracted space's authorized support contact may open tickets.",
                es="Solo el contacto autorizado de cada espacio contratado puede abrir tickets.",
            )
        if space is not None and space not in authorized:
            raise AccessRefused(
                "not-the-space-contact",
                en=f"You are not the authorized support contact of the space {space!r}.",
                es=f"Usted no es el contacto autorizado del espacio {space!r}.",
            )
