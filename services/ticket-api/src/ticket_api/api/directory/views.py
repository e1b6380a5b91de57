"""The directory's admin API: who may ask for support, who answers, and their keys.

Admins register and change everything; staff read the tenants they serve (an agent looking
up a caller's contact); customers read nothing here. Every change is an event recorded with
the admin who made it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from servicekit.openapi import problems, with_headers
from servicekit.paging import KnownParameters
from ticket_api.api.directory import models as m
from ticket_api.api.principals import STAFF, CurrentPrincipal, Principal
from ticket_api.api.problems import Problem
from ticket_api.api.tickets.models import Slug
from ticket_api.directory import Directory, Holder
from ticket_api.domain.errors import NotRegistered

router = APIRouter(prefix="/v1", tags=["directory"])


ALREADY = "Already registered under this id"


def directory_of(request: Request) -> Directory:
    directory: Directory = request.app.state.directory
    return directory


DirectoryDep = Annotated[Directory, Depends(directory_of)]


def admin(principal: CurrentPrincipal) -> Principal:
    principal.require("admin", doing="change the directory")
    return principal


Admin = Annotated[Principal, Depends(admin)]


def reader(principal: CurrentPrincipal) -> Principal:
    principal.require(*STAFF, doing="read the directory")
    return principal


Reader = Annotated[Principal, Depends(reader)]


def served(principal: Principal, tenant: str) -> None:
    """Another tenant's entry is 'not found' to an agent who does not serve it."""
    if not principal.may_see(tenant):
        raise NotRegistered(
            "tenant-not-registered",
            en=f"There is no customer organization {tenant!r}.",
            es=f"No existe la organización cliente {tenant!r}.",
        )


# -- tenants and spaces ----------------------------------------------------------------------


@router.post(
    "/tenants",
    status_code=201,
    summary="Register a customer organization",
    responses=with_headers("Location", status=201) | problems(409, d409=ALREADY),
)
def register_tenant(
    body: m.TenantIn, principal: Admin, directory: DirectoryDep, response: Response
) -> m.TenantOut:
    tenant = directory.register_tenant(
        slug=body.slug, name=body.name, policies=body.policies, by=principal.actor
    )
    response.headers["Location"] = f"/v1/tenants/{tenant.slug}"
    return m.TenantOut.of(tenant)


@router.get(
    "/tenants",
    summary="The organizations you serve",
    dependencies=[KnownParameters],
    responses=problems(400, d400="A query parameter the operation does not declare"),
)
def list_tenants(principal: Reader, directory: DirectoryDep) -> list[m.TenantOut]:
    return [m.TenantOut.of(t) for t in directory.tenants() if principal.may_see(t.slug)]


@router.get("/tenants/{slug}", summary="One organization")
def get_tenant(slug: str, principal: Reader, directory: DirectoryDep) -> m.TenantOut:
    served(principal, slug)
    return m.TenantOut.of(directory.tenant(slug))


@router.patch("/tenants/{slug}", summary="Rename, change policies, (de)activate")
def change_tenant(
    slug: str, body: m.TenantChange, principal: Admin, directory: DirectoryDep
) -> m.TenantOut:
    changes = body.model_dump(exclude_none=True)
    return m.TenantOut.of(directory.change_tenant(slug, by=principal.actor, **changes))


@router.put("/tenants/{slug}/spaces/{space}", summary="Contract a space, or change its contact")
def contract_space(
    slug: str, space: Slug, body: m.SpaceIn, principal: Admin, directory: DirectoryDep
) -> m.TenantOut:
    tenant = directory.contract_space(
        slug, space=space, name=body.name, contact_id=body.contact, by=principal.actor
    )
    return m.TenantOut.of(tenant)


@router.delete("/tenants/{slug}/spaces/{space}", summary="End a contracted space")
def end_space(slug: str, space: str, principal: Admin, directory: DirectoryDep) -> m.TenantOut:
    return m.TenantOut.of(directory.end_space(slug, space=space, by=principal.actor))


# -- contacts -------------------------------------------------------------------------------


def contact_out(directory: Directory, tenant: str, contact_id: str) -> m.ContactOut:
    contact = directory.contact(tenant, contact_id)
    spaces = directory.tenant(tenant).authorized_spaces(contact_id)
    return m.ContactOut.of(contact, spaces)


@router.post(
    "/tenants/{slug}/contacts",
    status_code=201,
    summary="Register a contact",
    responses=with_headers("Location", status=201) | problems(409, d409=ALREADY),
)
def register_contact(
    slug: str, body: m.ContactIn, principal: Admin, directory: DirectoryDep, response: Response
) -> m.ContactOut:
    details = body.model_dump(exclude={"id"}, exclude_none=True, mode="json")
    directory.register_contact(slug, contact_id=body.id, details=details, by=principal.actor)
    response.headers["Location"] = f"/v1/tenants/{slug}/contacts/{body.id}"
    return contact_out(directory, slug, body.id)


@router.get(
    "/tenants/{slug}/contacts",
    summary="An organization's contacts",
    dependencies=[KnownParameters],
    responses=problems(400, d400="A query parameter the operation does not declare"),
)
def list_contacts(slug: str, principal: Reader, directory: DirectoryDep) -> list[m.ContactOut]:
    served(principal, slug)
    return [contact_out(directory, slug, c) for c in directory.tenant(slug).contacts]


@router.get("/tenants/{slug}/contacts/{contact_id}", summary="One contact")
def get_contact(
    slug: str, contact_id: str, principal: Reader, directory: DirectoryDep
) -> m.ContactOut:
    served(principal, slug)
    return contact_out(directory, slug, contact_id)


@router.patch("/tenants/{slug}/contacts/{contact_id}", summary="Change or (de)activate a contact")
def change_contact(
    slug: str, contact_id: str, body: m.ContactChange, principal: Admin, directory: DirectoryDep
) -> m.ContactOut:
    changes = body.model_dump(exclude_none=True, mode="json")
    directory.change_contact(slug, contact_id, by=principal.actor, **changes)
    return contact_out(directory, slug, contact_id)


# -- staff and keys --------------------------------------------------------------------------


@router.post(
    "/staff",
    status_code=201,
    summary="Register an agent, supervisor or admin",
    responses=problems(409, d409=ALREADY),
)
def register_staff(body: m.StaffIn, principal: Admin, directory: DirectoryDep) -> m.StaffOut:
    member = directory.register_staff(
        staff_id=body.id,
        role=body.role,
        name=body.name,
        email=body.email,
        tenants=body.tenants,
        by=principal.actor,
    )
    return m.StaffOut.of(member)


@router.get("/staff/{staff_id}", summary="One staff member")
def get_staff(staff_id: str, _: Reader, directory: DirectoryDep) -> m.StaffOut:
    return m.StaffOut.of(directory.staff(staff_id))


@router.post(
    "/api-keys",
    status_code=201,
    summary="Issue an API key (shown once)",
    responses=problems(404, d404="The holder is not registered"),
)
def issue_key(body: m.KeyIn, principal: Admin, directory: DirectoryDep) -> m.NewKeyOut:
    holder = body.holder
    if holder.kind == "customer":
        if holder.tenant is None:
            raise Problem(
                422,
                "tenant-required",
                en="A customer contact's key names its tenant.",
                es="La clave de un contacto indica su organización (tenant).",
            )
        directory.contact(holder.tenant, holder.id)
    elif holder.kind != "service":
        directory.staff(holder.id)
    key, plain = directory.issue_key(
        holder=Holder(holder.kind, holder.id, tenant=holder.tenant),
        label=body.label,
        by=principal.actor,
    )
    return m.NewKeyOut(**m.KeyOut.of(key).model_dump(), key=plain)


@router.get("/api-keys/{key_id}", summary="A key's holder and state (never the key)")
def get_key(key_id: str, _: Admin, directory: DirectoryDep) -> m.KeyOut:
    return m.KeyOut.of(directory.key(key_id))


@router.delete("/api-keys/{key_id}", summary="Revoke a key: it stops working at once")
def revoke_key(key_id: str, principal: Admin, directory: DirectoryDep) -> m.KeyOut:
    return m.KeyOut.of(directory.revoke_key(key_id, by=principal.actor))
