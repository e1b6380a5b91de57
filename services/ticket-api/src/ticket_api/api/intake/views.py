"""``POST /v1/intake/email``: a raw email in, a ticket or a reply out.

For an MTA's pipe (``curl --data-binary @- -H 'Content-Type: message/rfc822'``) or a mail
provider's inbound hook, authenticated as a service (or an admin). The answer says what became
of the message; refused and ignored messages answer 202 — they were received, and deliberately
not acted on — so the MTA does not retry them, and the sender is never answered.

A message past the intake's limits (``TICKET_API_EMAIL_MAX_*``: nesting, parts, attachments,
headers, addresses, subject and text length) answers 422 ``email-too-complex`` instead, naming
the limit. Not 202: a refused sender is a decision about who wrote, kept quiet so as not to
answer forgers; an oversized message is a permanent failure of the message itself, which the
MTA or provider must see (it bounces instead of retrying, as after the SMTP listener's 5xx) and
which operators must be able to find — a 202 would report it as received. Nothing is stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from ticket_api.api import examples as ex
from ticket_api.api.principals import CurrentPrincipal
from ticket_api.api.problems import Problem
from ticket_api.email_intake import EmailIntake
from ticket_api.email_limits import EmailTooComplex

router = APIRouter(prefix="/v1/intake", tags=["intake"])
STATUS = {"opened": 201, "replied": 200, "ignored": 202, "refused": 202}


class IntakeOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ex.INTAKE_OUT]})

    action: str
    reason: str | None
    ticket_id: str | None
    case_number: str | None
    refused_attachments: list[dict[str, str]]


@router.post(
    "/email",
    summary="Receive a raw email (RFC 5322)",
    response_model=IntakeOut,
    responses={
        201: {"model": IntakeOut, "description": "A ticket was opened from the email"},
        202: {"model": IntakeOut, "description": "Ignored or refused: see action and reason"},
        422: {
            "description": "Empty, or past a limit (`email-too-complex`); nothing was stored",
            "content": {"application/problem+json": {}},
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "message/rfc822": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": ex.EMAIL,
                }
            },
        }
    },
)
async def receive_email(
    request: Request, response: Response, principal: CurrentPrincipal
) -> dict[str, Any]:
    principal.require("service", "admin", doing="deliver email to the desk")
    raw = await request.body()
    if not raw.strip():
        raise Problem(
            422,
            "empty-message",
            en="Send the raw message (RFC 5322) as the body.",
            es="Envíe el mensaje completo (RFC 5322) como cuerpo.",
        )
    intake: EmailIntake = request.app.state.email_intake
    try:
        outcome = await run_in_threadpool(intake.receive, raw)
    except EmailTooComplex as refused:
        raise Problem(422, refused.code, en=refused.en, es=refused.es) from None
    if outcome.ticket is not None and not outcome.replayed:
        request.app.state.ticket_list.catch_up_soon()
    response.status_code = STATUS[outcome.action]
    ticket = outcome.ticket
    return {
        "action": outcome.action,
        "reason": outcome.reason,
        "ticket_id": str(ticket.id) if ticket else None,
        "case_number": ticket.case_number if ticket else None,
        "refused_attachments": outcome.refused_attachments,
    }
