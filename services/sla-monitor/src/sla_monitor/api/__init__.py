"""The dashboards' read API of sla-monitor, by feature: ``clocks`` (a ticket's clocks, at
risk, breaches), ``reports`` (compliance), ``receipt``, ``stream`` (Server-Sent Events) and
``health``; ``models`` declares every answer, ``deps`` what the views share.

Everything is read from the SLA projection's tables (``sla_monitor.queries``). A ticket is
named as people name it: ``tickets/{id}`` takes its case number (``BIT-000123``) as well as its
id, and every row carries its case number, title, tenant, priority, assignee and state. Errors
are RFC 9457 ``application/problem+json`` with a Spanish ``detail`` by default and an English
one on ``Accept-Language: en``; callers see only the tenants they see on ticket-api.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from servicekit.paging import KnownParameters
from sla_monitor.api import clocks, health, receipt, reports, stream
from sla_monitor.api.deps import SlaReader, install_problems
from sla_monitor.api.params import parse_within
from sla_monitor.api.stream import sse

__all__ = ["SlaReader", "install_problems", "parse_within", "routes", "sse"]


def routes(app: FastAPI) -> None:
    """Every route of the read API, in the order the OpenAPI document lists them; each refuses
    a query parameter it does not declare (400 ``unknown-parameter``), as ticket-api's do."""
    router = APIRouter(dependencies=[KnownParameters])
    for feature in (clocks, receipt, reports, stream, health):
        router.include_router(feature.router)
    app.include_router(router)
