"""The receipt of a ticket's SLA clocks: every second explained, as JSON or as a plain-text
table (for a mail or a penalty dispute), Spanish by default and English on request."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from sla_monitor.api import examples, models
from sla_monitor.api.deps import English, Reader, Ticket, ticket_not_found
from sla_monitor.receipt import build_receipt
from sla_monitor.receipt_view import receipt_json, receipt_text

router = APIRouter(prefix="/v1/sla", tags=["sla"])


@router.get(
    "/tickets/{ticket_id}/receipt",
    operation_id="getSlaReceipt",
    summary="Every second of a ticket's SLA clocks explained: the receipt (JSON or plain text)",
    response_model=None,
    responses={
        200: {
            "model": models.Receipt,
            "content": {"text/plain": {"example": examples.RECEIPT_TEXT}},
        },
        **models.problems(401, 404, 503),
    },
)
async def ticket_receipt(
    ticket: Ticket,
    request: Request,
    reader: Reader,
    english: English,
    output: Annotated[
        Literal["json", "text"] | None,
        Query(alias="format", description="json or text; default: by the Accept header"),
    ] = None,
) -> Response:
    """Per metric and cycle, the spans that counted (local time and UTC), every stretch inside
    the measured period that did not and why (night, weekend, a holiday by name, a vendor
    closure, a pause with who caused it and why), each retarget on a priority change, and a
    total equal to the clock's used time. For a mail or a penalty dispute: ``format=text``."""
    receipt = build_receipt(reader.policies, ticket.rows, reader.clock.now())
    if receipt is None:
        raise ticket_not_found(ticket.ref)
    names = {
        "ticket_id": str(ticket.ticket_id),
        "case_number": ticket.facts.case_number,
        "title": ticket.facts.title,
        "tenant": ticket.tenant,
        "state": ticket.facts.state.value,
    }
    headers = {"Content-Language": "en" if english else "es", "Vary": "Accept, Accept-Language"}
    if wants_text(request, output):
        return PlainTextResponse(receipt_text(receipt, names, english=english), headers=headers)
    return JSONResponse(receipt_json(receipt, names, english=english), headers=headers)


def wants_text(request: Request, output: str | None) -> bool:
    """Plain text on ``format=text``, or on ``Accept: text/plain`` without JSON asked for too."""
    if output is not None:
        return output == "text"
    accept = request.headers.get("accept", "").lower()
    return "text/plain" in accept and "application/json" not in accept
