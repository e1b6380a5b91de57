"""Request and response bodies of the directory's admin API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from contracts.events.ticket import AgreedChannel
from contracts.policy.models import TimeZoneName
from ticket_api.api import examples as ex
from ticket_api.api.tickets.models import Short, Slug, example
from ticket_api.domain.directory import ApiKey, Contact, StaffMember, Tenant

Phone = Annotated[str, StringConstraints(pattern=r"^\+[0-9]{7,15}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TenantIn(_In):
    model_config = example(ex.TENANT_IN)

    slug: Slug
    name: Short
    policies: list[Slug] = Field(
        default_factory=list, description="Policies contracted; empty: any policy.", max_length=50
    )


class TenantChange(_In):
    model_config = example(ex.TENANT_CHANGE)

    name: Short | None = None
    policies: list[Slug] | None = Field(None, max_length=50)
    active: bool | None = Field(None, description="false: nobody of it may ask for support.")
    reason: Short | None = None


class SpaceIn(_In):
    model_config = example(ex.SPACE_IN)

    name: Short
    contact: Slug = Field(description="Its one authorized support contact (000).")


class TenantOut(BaseModel):
    model_config = example(ex.TENANT, forbid=False)

    slug: str
    name: str
    active: bool
    policies: list[str]
    spaces: dict[str, dict[str, str]]
    contacts: list[str]
    version: int

    @classmethod
    def of(cls, t: Tenant) -> TenantOut:
        return cls(
            slug=t.slug,
            name=t.name,
            active=t.active,
            policies=t.policies,
            spaces=t.spaces,
            contacts=t.contacts,
            version=t.version,
        )


class ContactDetails(_In):
    name: Short | None = None
    locale: Literal["es", "en"] | None = None
    channel: AgreedChannel | None = Field(
        None, description="The single channel agreed with the contact (002)."
    )
    time_zone: TimeZoneName | None = Field(None, description="IANA zone for times in messages.")
    phone: Phone | None = Field(None, description="E.164, needed for sms or whatsapp.")


class ContactIn(ContactDetails):
    model_config = example(ex.CONTACT_IN)

    id: Slug
    name: Short
    email: EmailStr
    locale: Literal["es", "en"] = "es"
    phone: Phone | None = Field(
        None, description="E.164, needed for sms or whatsapp.", validate_default=True
    )

    @field_validator("phone")
    @classmethod
    def _reachable(cls, phone: str | None, info: ValidationInfo) -> str | None:
        channel = info.data.get("channel")
        if channel in (AgreedChannel.SMS, AgreedChannel.WHATSAPP) and not phone:
            raise PydanticCustomError(
                "phone_required",
                "a contact told by {channel} needs a phone number (E.164, e.g. +573001234567)",
                {"channel": channel.value},
            )
        return phone


class ContactChange(ContactDetails):
    model_config = example(ex.CONTACT_CHANGE)

    active: bool | None = None
    reason: Short | None = None


class ContactOut(BaseModel):
    model_config = example(ex.CONTACT, forbid=False)

    id: str
    tenant: str
    active: bool
    name: str
    email: str
    locale: str
    phone: str | None
    channel: str | None
    time_zone: str | None
    spaces: list[str]

    @classmethod
    def of(cls, c: Contact, spaces: list[str]) -> ContactOut:
        d: dict[str, Any] = c.details
        return cls(
            id=c.contact_id,
            tenant=c.tenant,
            active=c.active,
            name=d["name"],
            email=c.email,
            locale=d.get("locale") or "es",
            phone=d.get("phone"),
            channel=d.get("channel"),
            time_zone=d.get("time_zone"),
            spaces=spaces,
        )


class StaffIn(_In):
    model_config = example(ex.STAFF_IN)

    id: Slug
    role: Literal["agent", "supervisor", "admin"]
    name: Short
    email: EmailStr | None = None
    tenants: list[Annotated[str, StringConstraints(pattern=r"^(\*|[a-z0-9][a-z0-9_-]{0,62})$")]] = (
        Field(default_factory=lambda: ["*"], description="Tenants an agent serves; * for all.")
    )


class StaffOut(BaseModel):
    model_config = example(ex.STAFF, forbid=False)

    id: str
    role: str
    name: str
    email: str | None
    tenants: list[str]
    active: bool

    @classmethod
    def of(cls, m: StaffMember) -> StaffOut:
        return cls(
            id=m.staff_id, role=m.role, name=m.name, email=m.email, tenants=m.tenants,
            active=m.active,
        )  # fmt: skip


class KeyHolder(_In):
    kind: Literal["customer", "agent", "supervisor", "admin", "service"]
    id: Slug
    tenant: Slug | None = Field(None, description="For a customer contact: its tenant.")


class KeyIn(_In):
    model_config = example(ex.KEY_IN)

    holder: KeyHolder
    label: Short = Field(description="What the key is for, e.g. 'ERP integration'.")


class KeyOut(BaseModel):
    model_config = example(ex.KEY, forbid=False)

    key_id: str
    holder: dict[str, str]
    label: str
    revoked: bool

    @classmethod
    def of(cls, k: ApiKey) -> KeyOut:
        return cls(key_id=k.key_id, holder=k.holder, label=k.label, revoked=k.revoked)


class NewKeyOut(KeyOut):
    model_config = example(ex.NEW_KEY, forbid=False)

    key: str = Field(description="The key itself: shown this once, stored only as a hash.")
