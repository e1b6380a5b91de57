"""``/v1/outbox/parked``: the events the outbox relay could not publish, for operators.

An unpublishable event is parked so that it never holds back the others; once its cause is
fixed (a contract corrected, an upcaster added, a stream's size limit raised) an admin asks
for it to be published again, and the relay — the only publisher — does so on its next pass
(runbook "A parked event" in ``docs/operations.md``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from servicekit.openapi import problems
from servicekit.paging import KnownParameters
from ticket_api.api import examples as ex
from ticket_api.api.principals import CurrentPrincipal
from ticket_api.api.problems import Problem
from ticket_api.parked_events import ParkedEvents

router = APIRouter(prefix="/v1/outbox", tags=["operations"])


def _parked(request: Request) -> ParkedEvents:
    relay = request.app.state.relay
    if relay is None:
        raise Problem(
            404,
            "no-relay",
            en="This ticket-api publishes nothing (no NATS configured): nothing is parked.",
            es="Este ticket-api no publica (no hay NATS configurado): no hay eventos apartados.",
        )
    parked: ParkedEvents = relay.parked
    return parked


@router.get(
    "/parked",
    summary="Events the relay could not publish",
    dependencies=[KnownParameters],
    responses=problems(404, d404="This ticket-api publishes nothing (no NATS): no relay")
    | problems(400, d400="A query parameter the operation does not declare")
    | ex.answer(ex.PARKED),
)
async def list_parked(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    principal.require("admin", doing="read the relay's parked events")
    parked = await run_in_threadpool(_parked(request).all)
    return {"items": [p.as_json() for p in parked]}


@router.post(
    "/parked/{notification_id}/republish",
    status_code=202,
    summary="Publish a parked event again, once its cause is fixed",
    responses=ex.answer(ex.REPUBLISHING, 202),
)
async def republish(
    notification_id: int, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    principal.require("admin", doing="republish a parked event")
    found = await run_in_threadpool(_parked(request).request_republish, notification_id)
    if found is None:
        raise Problem(
            404,
            "not-parked",
            en=f"No parked event has notification id {notification_id}.",
            es=f"Ningún evento apartado tiene el id de notificación {notification_id}.",
        )
    request.app.state.relay.wake()
    return found.as_json()
