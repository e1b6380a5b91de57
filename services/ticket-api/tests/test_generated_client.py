"""A typed client generated from the live OpenAPI document works unedited.

The document is the contract integrators build on: ``openapi-python-client`` turns it into a
package, which is imported and driven against the app served by uvicorn on a real socket,
through a success and each kind of error a client must handle (401, 404, 409, 412, 422, 429).
Every answer must parse into the declared model — a ticket, or a ``Problem`` whose fields the
client reads — and carry the headers the document declares. If the document lied (a status
it does not list, a body that does not match), the generated client would hand back ``None``
or raise.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from generated_clients import generate_client
from generated_clients import served as on_a_socket

from conftest import BTW_INTAKE, KEYS, POLICIES
from ticket_api.main import create_app
from ticket_api.settings import Settings


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """The app on a real socket (uvicorn in a thread), with a small rate limit to reach."""
    settings = Settings(
        store="sqlite",
        data_dir=tmp_path / "data",
        policies_dir=POLICIES,
        dev_keys=KEYS,
        rate_limit="20/minute",
    )
    app = create_app(settings)
    with on_a_socket(app) as url:
        yield app, url


def test_a_client_generated_from_the_document_handles_success_and_every_error(
    served: tuple[Any, str], tmp_path: Path
) -> None:
    app, url = served
    sdk = generate_client(app.openapi(), tmp_path, "ticket_api_client")
    client_mod = importlib.import_module("ticket_api_client.client")
    api = "ticket_api_client.api.tickets"
    open_ticket = importlib.import_module(f"{api}.open_ticket")
    get_ticket = importlib.import_module(f"{api}.get_ticket")
    list_tickets = importlib.import_module(f"{api}.list_tickets")
    assign_ticket = importlib.import_module(f"{api}.assign_ticket")
    reopen_ticket = importlib.import_module(f"{api}.reopen_ticket")
    models = importlib.import_module("ticket_api_client.models")
    assert sdk is not None

    def as_(key: str) -> Any:
        return client_mod.AuthenticatedClient(
            base_url=url, token=key, raise_on_unexpected_status=True
        )

    customer, agent = as_("dev-customer"), as_("dev-agent")

    # Success: 201 with the ticket, its Location, ETag and the caller's rate limit.
    body = models.OpenTicket.from_dict(
        {
            "policy": "btw",
            "title": "Error 500 DIAN al enviar facturas",
            "description": "Desde las 9:00 la DIAN responde 500.",
            "ticket_type": "soporte",
            "subcategory": "error-500-dian",
            "intake": BTW_INTAKE,
        }
    )
    opened = open_ticket.sync_detailed(client=customer, body=body)
    assert opened.status_code == 201 and isinstance(opened.parsed, models.TicketOut)
    ticket = opened.parsed
    assert opened.headers["ETag"] == f'"{ticket.version}"' and opened.headers["Location"]
    assert opened.headers["RateLimit-Policy"] == '"per-principal";q=20;w=60'

    def problem(answer: Any, status: int, code: str) -> Any:
        assert answer.status_code == status, answer.content
        parsed = answer.parsed
        assert isinstance(parsed, models.Problem), parsed
        assert (parsed.status, parsed.code) == (status, code)
        assert parsed.title and parsed.detail and parsed.type_.endswith(code)
        return parsed

    # 401: an unknown key.
    problem(get_ticket.sync_detailed(ticket.id, client=as_("sdk_nobody")), 401, "not-authenticated")
    # 404: no such ticket among the caller's tenants.
    problem(get_ticket.sync_detailed("BIT-999999", client=agent), 404, "ticket-not-found")
    # 412: If-Match names an older version; the answer says which is current.
    assign = models.Assign.from_dict({"agent_id": "agent-ana", "agent_name": "Ana"})
    stale = assign_ticket.sync_detailed(ticket.id, client=agent, body=assign, if_match='"99"')
    problem(stale, 412, "stale-version")
    assert stale.headers["ETag"] == f'"{ticket.version}"'
    # 409: not allowed in the ticket's state (an open ticket cannot be reopened).
    reopen = models.Reopen.from_dict({"reason": "Sigue fallando"})
    conflict = problem(
        reopen_ticket.sync_detailed(ticket.id, client=customer, body=reopen),
        409,
        "illegal-transition",
    )
    assert conflict.detail
    # 422: an invalid parameter, named in errors[].
    invalid = problem(list_tickets.sync_detailed(client=agent, level=99), 422, "invalid-request")
    assert invalid.errors and invalid.errors[0].field == "level"
    # 429: the principal's allowance is spent; Retry-After and RateLimit say for how long.
    service = as_("dev-service")
    answers = [list_tickets.sync_detailed(client=service) for _ in range(21)]
    limited = problem(answers[-1], 429, "too-many-requests")
    assert limited.title == "Demasiadas solicitudes"
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert answers[-1].headers["RateLimit"].startswith('"per-principal";r=0;')
