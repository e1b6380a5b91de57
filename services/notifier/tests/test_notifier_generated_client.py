"""A typed client generated from the notifier's live document works unedited.

openapi-python-client builds a package from ``/openapi.json``; it is driven against the app
served by uvicorn on a real socket, over a real PostgreSQL: webhook subscriptions created,
listed a page at a time with the cursor (and ``Link``) to the end, paused, rotated and read,
the delivery log read by staff, and each kind of problem (401, 403, 404, 422 and a 400 for a
cursor the server never gave out) parsed into ``Problem`` with its fields read.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from generated_clients import generate_client, served
from introspection import dev_introspection
from test_notifier_webhooks import DIRECTORY, settings_for

from notifier.main import create_app
from servicekit.clock import ManualClock


def test_a_client_generated_from_the_document_manages_webhooks_and_reads_problems(
    postgres_env: dict[str, str], tmp_path: Path
) -> None:
    settings = settings_for(postgres_env, webhook_allow_http=True, webhook_allow_private=True)
    clock = ManualClock(datetime(2026, 11, 30, 15, tzinfo=UTC))
    app = create_app(settings, clock=clock, principals=dev_introspection(DIRECTORY))
    generate_client(app.openapi(), tmp_path, "notifier_client")
    client_mod = importlib.import_module("notifier_client.client")
    models = importlib.import_module("notifier_client.models")

    def op(tag: str, name: str) -> Any:
        return importlib.import_module(f"notifier_client.api.{tag}.{name}")

    with served(app) as url:

        def as_(key: str) -> Any:
            return client_mod.AuthenticatedClient(
                base_url=url, token=key, raise_on_unexpected_status=True
            )

        acme, globex = as_("admin-acme"), as_("admin-globex")

        def problem(answer: Any, status: int, code: str) -> Any:
            assert answer.status_code == status, answer.content
            assert isinstance(answer.parsed, models.Problem), answer.parsed
            assert (answer.parsed.status, answer.parsed.code) == (status, code)
            assert answer.parsed.title and answer.parsed.detail
            return answer.parsed

        # Three subscriptions of acme's admin; the secret comes with creation only.
        created = []
        for n in range(3):
            body = models.WebhookIn.from_dict(
                {
                    "url": f"http://127.0.0.1:9/hooks/erp-{n}",
                    "events": ["ticket.*", "sla.breached"],
                    "tenant": "acme",
                    "description": f"ERP de Acme, sede {n}",
                }
            )
            answer = op("webhooks", "create_webhook").sync_detailed(client=acme, body=body)
            assert isinstance(answer.parsed, models.WebhookWithSecret), answer.content
            assert answer.parsed.secret.startswith("whsec_")
            created.append(answer.parsed.id)

        # Listed one a page: the cursor and the Link header walk to the end, nothing twice.
        listed: list[str] = []
        cursor: Any = None
        for _ in range(10):
            kwargs = {"cursor": cursor} if cursor else {}
            page = op("webhooks", "list_webhooks").sync_detailed(client=acme, limit=1, **kwargs)
            assert isinstance(page.parsed, models.WebhookPage), page.content
            listed += [item.id for item in page.parsed.items]
            cursor = page.parsed.next_cursor
            if cursor is None:
                assert "link" not in page.headers
                break
            assert page.headers["Link"].endswith('>; rel="next"') and cursor in page.headers["Link"]
        assert listed == created

        first = created[0]
        paused = op("webhooks", "pause_webhook").sync_detailed(
            first, client=acme, body=models.PauseIn.from_dict({"reason": "Migración del ERP"})
        )
        assert isinstance(paused.parsed, models.WebhookOut) and paused.parsed.status == "paused"
        rotated = op("webhooks", "rotate_webhook_secret").sync_detailed(
            first, client=acme, body=models.RotateIn.from_dict({"overlap_seconds": 3600})
        )
        assert isinstance(rotated.parsed, models.WebhookWithSecret), rotated.content
        assert rotated.parsed.rotation_ends_at is not None
        history = op("webhooks", "list_webhook_deliveries").sync_detailed(first, client=acme)
        assert isinstance(history.parsed, models.DeliveryPage) and history.parsed.items == []
        log = op("deliveries", "list_deliveries").sync_detailed(client=as_("dev-supervisor"))
        assert isinstance(log.parsed, models.DeliveryPage) and log.parsed.next_cursor is None

        # Problems, parsed.
        get_webhook = op("webhooks", "get_webhook")
        problem(get_webhook.sync_detailed(first, client=as_("nobody")), 401, "not-authenticated")
        problem(get_webhook.sync_detailed(first, client=as_("dev-agent")), 403, "not-allowed")
        problem(get_webhook.sync_detailed(first, client=globex), 404, "webhook-not-found")
        unknown = models.WebhookIn.from_dict(
            {"url": "http://127.0.0.1:9/x", "events": ["ticket.lost"], "tenant": "acme"}
        )
        invalid = problem(
            op("webhooks", "create_webhook").sync_detailed(client=acme, body=unknown),
            422,
            "unknown-event-type",
        )
        assert invalid.errors and invalid.errors[0].field == "events"
        refused = op("webhooks", "list_webhooks").sync_detailed(client=acme, cursor="not-ours")
        assert problem(refused, 400, "invalid-cursor").errors[0].field == "cursor"
        retry = op("deliveries", "retry_delivery").sync_detailed("nope", client=as_("dev-agent"))
        problem(retry, 404, "delivery-not-found")
