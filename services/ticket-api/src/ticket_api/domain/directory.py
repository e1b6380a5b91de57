"""Who may ask for support and who answers: tenants, their contracted spaces and contacts, staff,
and the API keys they call with.

The seeds are strict about it (000, 004): only registered contacts of active customers open
tickets; each contracted cloud space has exactly one authorized support contact; email must
come from a registered address. These aggregates live in the same event store as the tickets,
so every change to who may do what has a history (who changed it, when).

Each aggregate's id is derived from its natural key (tenant slug, contact email, staff id, key
id), so it is found by one read without a separate index, and a second registration of the
same key is a conflict the store itself refuses.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:supportdesk:directory")
ALL_TENANTS = "*"


class Tenant(Aggregate):
    """A customer organization: active or not, with its contracted spaces (000)."""

    @staticmethod
    def id_for(slug: str) -> UUID:
        return uuid5(_NAMESPACE, f"tenant:{slug}")

    @classmethod
    def register(cls, *, slug: str, name: str, policies: list[str], by: dict[str, Any]) -> Tenant:
        return cls._create(
            cls.Registered, id=cls.id_for(slug), slug=slug, name=name, policies=policies, by=by
        )

    class Registered(Aggregate.Created):
        slug: str
        name: str
        policies: list[str]
        by: dict[str, Any]

    def __init__(self, *, slug: str, name: str, policies: list[str], by: dict[str, Any]) -> None:
        self.slug = slug
        self.name = name
        self.policies = policies
        self.active = True
        self.spaces: dict[str, dict[str, str]] = {}
        self.contacts: list[str] = []

    @event("ContactAdded")
    def add_contact(self, *, contact_id: str, by: dict[str, Any]) -> None:
        self.contacts.append(contact_id)

    @event("Changed")
    def change(self, *, name: str, policies: list[str], by: dict[str, Any]) -> None:
        self.name = name
        self.policies = policies

    @event("Deactivated")
    def deactivate(self, *, reason: str, by: dict[str, Any]) -> None:
        self.active = False

    @event("Reactivated")
    def reactivate(self, *, by: dict[str, Any]) -> None:
        self.active = True

    @event("ContactErased")
    def erase(self, *, reason: str, by: dict[str, Any]) -> None:
        """The proof of an erasure (ADR 23): who, when and why, and nothing personal. The
        contact stays inactive: their name, email and phone are gone with their keys."""
        self.active = False
        self.erased = True

    @property
    def is_erased(self) -> bool:
        return bool(getattr(self, "erased", False))

    @event("SpaceContracted")
    def contract_space(self, *, space: str, name: str, contact: str, by: dict[str, Any]) -> None:
        """A cloud space with its one authorized support contact (000); again: a new contact."""
        self.spaces[space] = {"name": name, "contact": contact}

    @event("SpaceEnded")
    def end_space(self, *, space: str, by: dict[str, Any]) -> None:
        self.spaces.pop(space, None)

    def may_use(self, policy: str) -> bool:
        return not self.policies or policy in self.policies

    def authorized_spaces(self, contact: str) -> list[str]:
        """The spaces this contact is the support contact of."""
        return sorted(s for s, spec in self.spaces.items() if spec["contact"] == contact)


class Contact(Aggregate):
    """A customer's person who may ask for support (also found by email: ``EmailAddress``)."""

    @staticmethod
    def id_for(tenant: str, contact_id: str) -> UUID:
        return uuid5(_NAMESPACE, f"contact:{tenant}:{contact_id}")

    @classmethod
    def register(cls, *, tenant: str, contact_id: str, details: dict[str, Any],
                 by: dict[str, Any]) -> Contact:  # fmt: skip
        return cls._create(
            cls.Registered,
            id=cls.id_for(tenant, contact_id),
            tenant=tenant,
            contact_id=contact_id,
            details=details,
            by=by,
        )

    class Registered(Aggregate.Created):
        tenant: str
        contact_id: str
        details: dict[str, Any]
        by: dict[str, Any]

    def __init__(
        self, *, tenant: str, contact_id: str, details: dict[str, Any], by: dict[str, Any]
    ) -> None:
        self.tenant = tenant
        self.contact_id = contact_id
        self.details = dict(details)
        self.active = True

    @property
    def email(self) -> str:
        return str(self.details["email"])

    @event("Changed")
    def change(self, *, details: dict[str, Any], by: dict[str, Any]) -> None:
        """New name, locale, agreed channel, phone or time zone (the email is the identity)."""
        self.details = {**self.details, **details, "email": self.email}

    @event("Deactivated")
    def deactivate(self, *, reason: str, by: dict[str, Any]) -> None:
        self.active = False

    @event("Reactivated")
    def reactivate(self, *, by: dict[str, Any]) -> None:
        self.active = True

    @event("ContactErased")
    def erase(self, *, reason: str, by: dict[str, Any]) -> None:
        """The proof of an erasure (ADR 23): who, when and why, and nothing personal. The
        contact stays inactive: their name, email and phone are gone with their keys."""
        self.active = False
        self.erased = True

    @property
    def is_erased(self) -> bool:
        return bool(getattr(self, "erased", False))

    def as_ticket_contact(self) -> dict[str, Any]:
        """The contact as an opened ticket records it (``contracts.events.ticket.Contact``)."""
        return {"id": self.contact_id, **self.details}


class EmailAddress(Aggregate):
    """Which contact an email address belongs to: one owner per address, across tenants, so
    a message from it names its tenant (email intake) and a token's email names its contact."""

    @staticmethod
    def normalize(email: str) -> str:
        return email.strip().lower()

    @staticmethod
    def id_for(email: str) -> UUID:
        return uuid5(_NAMESPACE, f"email:{EmailAddress.normalize(email)}")

    @classmethod
    def claim(cls, *, email: str, tenant: str, contact_id: str) -> EmailAddress:
        return cls._create(
            cls.Claimed, id=cls.id_for(email), email=cls.normalize(email), tenant=tenant,
            contact_id=contact_id,
        )  # fmt: skip

    class Claimed(Aggregate.Created):
        email: str
        tenant: str
        contact_id: str

    def __init__(self, *, email: str, tenant: str, contact_id: str) -> None:
        self.email = email
        self.tenant = tenant
        self.contact_id = contact_id


class StaffMember(Aggregate):
    """An agent, supervisor or administrator of the desk, and the tenants they serve."""

    @staticmethod
    def id_for(staff_id: str) -> UUID:
        return uuid5(_NAMESPACE, f"staff:{staff_id}")

    @classmethod
    def register(cls, *, staff_id: str, role: str, name: str, email: str | None,
                 tenants: list[str], by: dict[str, Any]) -> StaffMember:  # fmt: skip
        return cls._create(
            cls.Registered,
            id=cls.id_for(staff_id),
            staff_id=staff_id,
            role=role,
            name=name,
            email=email,
            tenants=tenants,
            by=by,
        )

    class Registered(Aggregate.Created):
        staff_id: str
        role: str
        name: str
        email: str | None
        tenants: list[str]
        by: dict[str, Any]

    def __init__(self, *, staff_id: str, role: str, name: str, email: str | None,
                 tenants: list[str], by: dict[str, Any]) -> None:  # fmt: skip
        self.staff_id = staff_id
        self.role = role
        self.name = name
        self.email = email
        self.tenants = tenants
        self.active = True

    @event("Changed")
    def change(self, *, role: str, name: str, tenants: list[str], by: dict[str, Any]) -> None:
        self.role, self.name, self.tenants = role, name, tenants

    @event("Deactivated")
    def deactivate(self, *, reason: str, by: dict[str, Any]) -> None:
        self.active = False


class ApiKey(Aggregate):
    """An API key: its holder and the hash of its secret. The secret itself is never stored.

    Keys look like ``sdk_<key id>_<secret>``; the key id finds the aggregate, the secret's
    SHA-256 is compared in constant time. A plain hash suffices because the secret is 256 random
    bits (nothing to guess, unlike a password); a slow hash would only slow every request.
    """

    @staticmethod
    def id_for(key_id: str) -> UUID:
        return uuid5(_NAMESPACE, f"api-key:{key_id}")

    @staticmethod
    def digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def issue(cls, *, key_id: str, secret: str, holder: dict[str, str], label: str,
              by: dict[str, Any]) -> ApiKey:  # fmt: skip
        return cls._create(
            cls.Issued,
            id=cls.id_for(key_id),
            key_id=key_id,
            secret_sha256=cls.digest(secret),
            holder=holder,
            label=label,
            by=by,
        )

    class Issued(Aggregate.Created):
        key_id: str
        secret_sha256: str
        holder: dict[str, str]
        label: str
        by: dict[str, Any]

    def __init__(self, *, key_id: str, secret_sha256: str, holder: dict[str, str], label: str,
                 by: dict[str, Any]) -> None:  # fmt: skip
        self.key_id = key_id
        self.secret_sha256 = secret_sha256
        self.holder = holder
        """``{"kind": customer|agent|supervisor|admin|service, "id": ..., "tenant": ...}``."""
        self.label = label
        self.revoked = False

    @event("Revoked")
    def revoke(self, *, by: dict[str, Any]) -> None:
        self.revoked = True

    def matches(self, secret: str) -> bool:
        return not self.revoked and hmac.compare_digest(self.secret_sha256, self.digest(secret))


class Registry(Aggregate):
    """The list of registered tenants and staff (the store lists no aggregates by type)."""

    ID = uuid5(_NAMESPACE, "registry")

    @classmethod
    def start(cls) -> Registry:
        return cls._create(cls.Started, id=cls.ID)

    class Started(Aggregate.Created):
        pass

    def __init__(self) -> None:
        self.tenants: list[str] = []
        self.staff: list[str] = []

    @event("TenantListed")
    def list_tenant(self, slug: str) -> None:
        self.tenants.append(slug)

    @event("StaffListed")
    def list_staff(self, staff_id: str) -> None:
        self.staff.append(staff_id)
