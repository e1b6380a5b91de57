"""Introspection: who the caller's own credential is, for the services that read through it.

sla-monitor and the notifier do not keep keys of their own: they forward each request's
``Authorization`` / ``X-API-Key`` here and get back the principal and the tenants it sees, as
ticket-api resolves it on every request (ADR 0014; RFC 7662 in spirit, but a caller may only
ask about the credential it presents). The answer's shape is ``servicekit.web.PrincipalInfo``.
"""

from __future__ import annotations

from fastapi import APIRouter

from servicekit.web import PrincipalInfo
from ticket_api.api import examples as ex
from ticket_api.api.principals import CurrentPrincipal
from ticket_api.domain.directory import ALL_TENANTS

router = APIRouter(prefix="/v1", tags=["directory"])


@router.get(
    "/principal",
    response_model=PrincipalInfo,
    summary="Who this credential is and which tenants it sees",
    responses=ex.answer(ex.PRINCIPAL),
)
def introspect(principal: CurrentPrincipal) -> PrincipalInfo:
    """Any valid credential may ask about itself; an invalid or revoked one gets 401, a
    deactivated tenant, contact or staff member 403, as on every other endpoint."""
    return PrincipalInfo(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        tenant=principal.tenant,
        tenants=[] if principal.sees_all else [t for t in principal.tenants if t != ALL_TENANTS],
        all_tenants=principal.sees_all,
    )
