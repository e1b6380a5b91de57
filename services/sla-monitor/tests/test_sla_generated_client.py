"""A typed client generated from sla-monitor's live document works unedited.

openapi-python-client builds a package from ``/openapi.json``; it is driven against the app
served by uvicorn on a real socket, over a real PostgreSQL holding three tickets of the BITAM
policy (``test_sla_api``'s story): a ticket's clocks and receipt, the at-risk list paged with
its cursor to the end, breaches, compliance, and each kind of problem (401, 403, 404, 422 and a
400 for a cursor the server never gave out) parsed into ``Problem`` with its fields read.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from generated_clients import generate_client, served
from introspection import dev_introspection
from test_sla_api import (
    EARLIER_MONDAY,
    FRIDAY_1730,
    opened,
    replied,
    run,
    seed,
    settings_for,
)

from servicekit.clock import ManualClock
from sla_monitor.main import create_app


def test_a_client_generated_from_the_document_reads_pages_and_problems(
    postgres_env: dict[str, str], tmp_path: Path
) -> None:
    for n, tenant in enumerate(("acme", "acme", "globex"), start=1):
        story = [(opened(case_number=f"BIT-00000{n}"), FRIDAY_1730 + timedelta(minutes=n))]
        run(seed(postgres_env, tenant, uuid4(), story))
    late = [(opened(case_number="BIT-000009"), EARLIER_MONDAY)]
    late.append((replied(), EARLIER_MONDAY + timedelta(minutes=90)))
    run(seed(postgres_env, "globex", uuid4(), late))
    clock = ManualClock(FRIDAY_1730 + timedelta(minutes=15))
    app = create_app(settings_for(postgres_env), clock=clock, principals=dev_introspection())
    generate_client(app.openapi(), tmp_path, "sla_client")
    client_mod = importlib.import_module("sla_client.client")
    models = importlib.import_module("sla_client.models")

    def op(name: str) -> Any:
        return importlib.import_module(f"sla_client.api.sla.{name}")

    with served(app) as url:

        def as_(key: str) -> Any:
            return client_mod.AuthenticatedClient(
                base_url=url, token=key, raise_on_unexpected_status=True
            )

        agent, customer = as_("dev-agent"), as_("dev-customer")

        def problem(answer: Any, status: int, code: str) -> Any:
            assert answer.status_code == status, answer.content
            assert isinstance(answer.parsed, models.Problem), answer.parsed
            assert (answer.parsed.status, answer.parsed.code) == (status, code)
            assert answer.parsed.title and answer.parsed.detail
            return answer.parsed

        # A ticket's clocks, by case number, and its receipt as JSON.
        clocks = op("get_sla_ticket").sync_detailed("BIT-000001", client=agent)
        assert isinstance(clocks.parsed, models.TicketClocks), clocks.content
        assert clocks.parsed.tenant == "acme" and clocks.parsed.clocks[0].target_seconds == 3600
        receipt = op("get_sla_receipt").sync_detailed("BIT-000001", client=agent)
        assert isinstance(receipt.parsed, models.Receipt) and receipt.parsed.language == "es"

        # The at-risk list, one clock a page: the cursor (and Link) walk to the end.
        seen: list[tuple[str, str]] = []
        cursor: Any = None
        for _ in range(20):
            kwargs = {"cursor": cursor} if cursor else {}
            page = op("list_at_risk").sync_detailed(client=agent, within="3d", limit=1, **kwargs)
            assert isinstance(page.parsed, models.AtRisk), page.content
            seen += [(row.case_number, row.metric) for row in page.parsed.items]
            cursor = page.parsed.next_cursor
            assert page.parsed.truncated is (cursor is not None)
            if cursor is None:
                assert "link" not in page.headers
                break
            assert page.headers["Link"].endswith('>; rel="next"') and cursor in page.headers["Link"]
        assert len(seen) == len(set(seen)) >= 6  # three tickets, two running clocks each
        whole = op("list_at_risk").sync_detailed(client=agent, within="3d", limit=100).parsed
        assert [(row.case_number, row.metric) for row in whole.items] == seen
        # A customer sees its own tenant's rows only.
        own = op("list_at_risk").sync_detailed(client=customer, within="3d").parsed
        assert own.items and {row.tenant for row in own.items} == {"acme"}

        breaches = op("list_breaches").sync_detailed(client=agent)
        assert isinstance(breaches.parsed, models.Breaches), breaches.content
        assert "BIT-000009" in {row.case_number for row in breaches.parsed.items}
        compliance = op("get_compliance").sync_detailed(client=agent)
        assert isinstance(compliance.parsed, models.Compliance), compliance.content

        # Problems, parsed.
        problem(op("get_sla_ticket").sync_detailed("BIT-000001", client=as_("nobody")), 401,
                "not-authenticated")  # fmt: skip
        problem(op("list_at_risk").sync_detailed(client=customer, tenant="globex"), 403,
                "not-allowed")  # fmt: skip
        problem(op("get_sla_ticket").sync_detailed("BIT-999999", client=agent), 404,
                "ticket-not-found")  # fmt: skip
        invalid = problem(op("list_at_risk").sync_detailed(client=agent, within="soon"), 422,
                          "invalid-duration")  # fmt: skip
        assert invalid.errors and invalid.errors[0].field == "within"
        refused = op("list_breaches").sync_detailed(client=agent, cursor="not-ours")
        assert problem(refused, 400, "invalid-cursor").errors[0].field == "cursor"
