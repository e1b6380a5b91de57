"""Personal data over HTTP: an admin erases a contact's; a service fetches the data key that
opens an event it consumed (ADR 23).

The key route answers services only (sla-monitor, the notifier), with the key in base64; an
erased key is 410 ``personal-data-erased`` (the consumer reads the event as erased), a key
never issued 404. Keys travel only between services, over the same credential and transport
as every other internal call.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field, StringConstraints

from contracts.events.base import ShortText
from servicekit.openapi import problems
from servicekit.personal_data import UnknownKey
from ticket_api.api.directory.views import Admin, DirectoryDep
from ticket_api.api.principals import CurrentPrincipal, Principal
from ticket_api.api.problems import Problem
from ticket_api.api.tickets.models import Slug, example
from ticket_api.application import TicketDesk
from ticket_api.erasure import Erasure, ErasureReport

router = APIRouter(prefix="/v1", tags=["personal data"])

KeyId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f-]{36}$"),
    Path(examples=["3f0c5a52-9d1e-4f7b-8a43-6a2b1c9e7d10"]),
]


class ErasureIn(BaseModel):
    model_config = example({"reason": "Solicitud ARCO 2026-114 (LFPDPPP art. 28)"})

    reason: ShortText = Field(
        description="Why (the request's reference, the law invoked); never the person's name.",
        examples=["Solicitud ARCO 2026-114 (LFPDPPP art. 28)"],
    )


class ErasureOut(BaseModel):
    """What the erasure touched; asking again reports ``already_erased`` and changes nothing
    more."""

    tenant: str
    contact: str
    already_erased: bool
    keys_destroyed: int = Field(description="Data keys destroyed by this call.")
    tickets_marked: list[str] = Field(
        description="Case numbers on which this call recorded ticket.personal_data_erased."
    )
    tickets_already_marked: int
    attachments_deleted: int
    ticket_list_rows: int = Field(description="Rows of the ticket list re-read as erased.")
    directory_record: str
    elsewhere: list[str] = Field(
        description="What the other services do with it, in each ticket's order."
    )

    model_config = example(
        {
            "tenant": "acme",
            "contact": "contact-ana",
            "already_erased": False,
            "keys_destroyed": 2,
            "tickets_marked": ["BTW-000123", "BTW-000131"],
            "tickets_already_marked": 0,
            "attachments_deleted": 1,
            "ticket_list_rows": 2,
            "directory_record": "ContactErased recorded; name, email and phone blanked",
            "elsewhere": [
                "sla-monitor blanks its copies when ticket.personal_data_erased reaches it",
                "the notifier blanks its ticket views and delivery log and cancels pending mail",
            ],
        },
        forbid=False,
    )

    @classmethod
    def of(cls, report: ErasureReport) -> ErasureOut:
        fields: dict[str, Any] = vars(report)
        return cls.model_validate({k: v for k, v in fields.items() if k != "scope"})


class DataKeyOut(BaseModel):
    model_config = example(
        {
            "key_id": "3f0c5a52-9d1e-4f7b-8a43-6a2b1c9e7d10",
            "key": "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=",
        },
        forbid=False,
    )

    key_id: str
    key: str = Field(description="The AES-256-GCM data key, base64.")


def erasure_of(request: Request) -> Erasure:
    erasure: Erasure = request.app.state.erasure
    return erasure


@router.post(
    "/tenants/{slug}/contacts/{contact_id}/erasure",
    summary="Erase a contact's personal data (admin)",
    description="Destroys the contact's data keys, records the erasure on each of their "
    "tickets and as `ContactErased` in the directory, deletes their attachments and blanks "
    "the ticket list; sla-monitor and the notifier blank their copies as the tickets' "
    "`ticket.personal_data_erased` events reach them. History, states, times and SLA "
    "outcomes stay. Mail already delivered cannot be recalled. Idempotent.",
    responses=problems(404),
)
def erase_contact(
    slug: Slug,
    contact_id: Annotated[str, StringConstraints(min_length=1, max_length=200)],
    body: ErasureIn,
    principal: Admin,
    directory: DirectoryDep,
    erasure: Annotated[Erasure, Depends(erasure_of)],
) -> ErasureOut:
    directory.tenant(slug)  # an unknown tenant is 404, naming it
    report = erasure.erase_contact(slug, contact_id, reason=body.reason, by=principal.actor)
    return ErasureOut.of(report)


def service(principal: CurrentPrincipal) -> Principal:
    principal.require("service", doing="read personal data keys")
    return principal


@router.get(
    "/personal-data/keys/{key_id}",
    summary="A data key, for a service opening an event it consumed",
    responses=problems(404, 410, d410="The key was erased: read the event as erased"),
)
def data_key(
    key_id: KeyId, _: Annotated[Principal, Depends(service)], request: Request
) -> DataKeyOut:
    desk: TicketDesk = request.app.state.desk
    try:
        key = desk.keyring.data_key(key_id)
    except UnknownKey:
        raise Problem(
            404,
            "unknown-data-key",
            en=f"No data key {key_id} was ever issued.",
            es=f"Nunca se emitió la clave de datos {key_id}.",
        ) from None
    if key is None:
        raise Problem(
            410,
            "personal-data-erased",
            en=f"The data key {key_id} was erased: its personal data is gone for good.",
            es=f"La clave de datos {key_id} fue borrada: sus datos personales ya no existen.",
        )
    return DataKeyOut(key_id=key_id, key=base64.b64encode(key).decode())
