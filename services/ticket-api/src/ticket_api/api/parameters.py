"""Query parameters are part of the contract: one a route does not declare is a 400, not ignored.

A client that misspells a filter (``?stauts=open``) or uses one that does not exist (``?q=`` on a
server without search) would otherwise get every ticket back and believe the filter worked.
``KnownParameters`` is a dependency for any route (list endpoints first): it compares the query
string with the parameters FastAPI declared for the route, so a new parameter needs no second
list here (``servicekit.paging.parameter_guard``, shared with the other services). Parameters
the API deliberately does not offer get their own reason.
"""

from __future__ import annotations

from fastapi import Depends

from servicekit.paging import parameter_guard

UNSUPPORTED = {
    "breached": (
        "ticket-api cannot tell whether an SLA clock breached: breaches are decided by "
        "sla-monitor and are not ticket events. Ask sla-monitor: GET /v1/sla/breaches.",
        "ticket-api no sabe si un reloj de SLA se incumplió: los incumplimientos los decide "
        "sla-monitor y no son eventos del ticket. Consulte sla-monitor: GET /v1/sla/breaches.",
    ),
}
"""Parameters integrators ask for that this API does not offer, and where to go instead."""

KnownParameters = Depends(parameter_guard(UNSUPPORTED))
