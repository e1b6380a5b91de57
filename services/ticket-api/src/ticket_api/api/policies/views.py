"""``/v1/policies``: what a client needs to integrate — priorities and their targets, ticket
types and their intake fields, supported versions, and the support hours in each customer
country's local time (000's table, computed from the time zones for the current week)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from contracts.policy import SupportPolicy
from servicekit.openapi import problems
from servicekit.paging import KnownParameters
from ticket_api.api import examples as ex
from ticket_api.api.principals import CurrentPrincipal
from ticket_api.api.problems import Problem

router = APIRouter(prefix="/v1/policies", tags=["policies"])


def describe(policy: SupportPolicy, request: Request) -> dict[str, Any]:
    now = request.app.state.desk.clock.now()
    targets = {
        p.id: {
            "name": p.name,
            "description": p.description,
            "targets": {
                metric.value: {
                    "within": str(t.within),
                    "clock": t.clock.value,
                    "calendar": t.calendar or policy.business_calendar,
                    "seconds": policy.duration(t).total_seconds()
                    if not policy.modalities
                    else None,
                }
                for metric, t in p.targets.items()
            },
        }
        for p in policy.priorities
    }
    fields = {f.id: f.model_dump(mode="json") for f in policy.intake_fields}
    return {
        "id": policy.id,
        "name": policy.name,
        "vendor": policy.vendor,
        "case_prefix": policy.case_prefix,
        "priorities": targets,
        "ticket_types": [
            {
                "id": t.id,
                "name": t.name,
                "sla_exempt": t.sla_exempt,
                "decision": str(t.decision.within) if t.decision else None,
                "required_fields": [fields[f] for f in policy.required_fields_for(t.id)],
                "optional_fields": [fields[f] for f in t.optional_fields],
                "default_priority": t.default_priority,
            }
            for t in policy.ticket_types
        ],
        "subcategories": [s.model_dump(mode="json") for s in policy.subcategories],
        "out_of_scope": [x.model_dump(mode="json") for x in policy.out_of_scope],
        "products": [
            {"id": p.id, "name": p.name, "supported_versions": p.supported_versions()}
            for p in policy.products
        ],
        "modalities": [m.model_dump(mode="json") for m in policy.modalities],
        "contact_channels": [c.model_dump(mode="json") for c in policy.contact_channels],
        "support_hours": policy.support_hours_table(now.date()),
        "lifecycle": policy.lifecycle.model_dump(mode="json"),
        "abandonment": policy.abandonment.model_dump(mode="json"),
        "escalation": policy.escalation.model_dump(mode="json") if policy.escalation else None,
    }


@router.get(
    "",
    summary="The loaded support policies",
    dependencies=[KnownParameters],
    responses=problems(400, d400="A query parameter the operation does not declare")
    | ex.answer([ex.POLICY]),
)
def list_policies(request: Request, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    return [describe(p, request) for p in request.app.state.desk.policies.values()]


@router.get("/{policy_id}", summary="One support policy", responses=ex.answer(ex.POLICY))
def get_policy(policy_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    policy = request.app.state.desk.policies.get(policy_id)
    if policy is None:
        raise Problem(
            404,
            "policy-not-found",
            en=f"No policy {policy_id!r}.",
            es=f"No existe la política {policy_id!r}.",
        )
    return describe(policy, request)
