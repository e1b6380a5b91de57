"""Query parameters are part of the contract: one a route does not declare is a 400, not ignored.

A client that misspells a filter (``?stauts=open``) or uses one that does not exist (``?q=`` on a
server without search) would otherwise get every ticket back and believe the filter worked.
``KnownParameters`` is a dependency for any route (list endpoints first): it compares the query
string with the parameters FastAPI declared for the route, so a new parameter needs no second
list here. Parameters the API deliberately does not offer get their own reason.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant

from ticket_api.api.problems import Problem

UNSUPPORTED = {
    "breached": (
        "ticket-api cannot tell whether an SLA clock breached: breaches are decided by "
        "sla-monitor and are not ticket events. Ask sla-monitor: GET /v1/sla/breaches.",
        "ticket-api no sabe si un reloj de SLA se incumplió: los incumplimientos los decide "
        "sla-monitor y no son eventos del ticket. Consulte sla-monitor: GET /v1/sla/breaches.",
    ),
}
"""Parameters integrators ask for that this API does not offer, and where to go instead."""

_declared: dict[int, frozenset[str]] = {}


def declared_parameters(route: Any) -> frozenset[str]:
    """The query parameters a route accepts (its own and its dependencies'), by their alias."""
    if id(route) not in _declared:
        _declared[id(route)] = frozenset(_query_names(route.dependant))
    return _declared[id(route)]


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def reject_unknown_parameters(request: Request) -> None:
    """400 ``unknown-parameter`` (or ``unsupported-parameter``) naming the first one."""
    accepted = declared_parameters(request.scope["route"])
    for name in request.query_params:
        if name in accepted:
            continue
        listed = ", ".join(sorted(accepted)) or "-"
        if name in UNSUPPORTED:
            en, es = UNSUPPORTED[name]
            raise Problem(400, "unsupported-parameter", en=en, es=es, field=name)
        raise Problem(
            400,
            "unknown-parameter",
            en=f"Unknown query parameter {name!r}. Accepted: {listed}.",
            es=f"Parámetro de consulta desconocido {name!r}. Se aceptan: {listed}.",
            field=name,
        )


KnownParameters = Depends(reject_unknown_parameters)
