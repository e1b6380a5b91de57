"""Schemathesis over the notifier's document: generated requests as an admin, an agent and a
customer, against the app on a real socket and PostgreSQL, with webhook subscriptions to find.

No answer may be a server error, and every answer must be one the document promised
(``testing/conformance.py``). The app is configured as in production (https only, public
addresses only), so generated receiver URLs are refused before any is called.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import schemathesis
from conformance import fuzz
from generated_clients import served
from introspection import dev_introspection
from test_notifier_webhooks import DIRECTORY, settings_for

from notifier.main import create_app
from servicekit.clock import ManualClock

EXAMPLES_PER_OPERATION = 25
CREDENTIALS = {
    "admin": {"Authorization": "Bearer admin-all"},
    "agent": {"Authorization": "Bearer dev-agent"},
    "customer": {"Authorization": "Bearer dev-customer"},
}


def test_no_generated_request_makes_a_server_error_or_breaks_the_document(
    postgres_env: dict[str, str],
) -> None:
    clock = ManualClock(datetime(2026, 11, 30, 15, tzinfo=UTC))
    app = create_app(
        settings_for(postgres_env), clock=clock, principals=dev_introspection(DIRECTORY)
    )
    with served(app) as url:
        created = httpx.post(
            f"{url}/v1/webhooks",
            json={"url": "https://1.1.1.1/hooks", "events": ["ticket.*"], "tenant": "acme"},
            headers=CREDENTIALS["admin"],
        )
        assert created.status_code == 201, created.text
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == 14
        sent = fuzz(operations, CREDENTIALS, examples=EXAMPLES_PER_OPERATION)
    print(f"notifier: {len(sent.sent)} requests {sent.by_credential()}, statuses {sent.statuses()}")
    assert len(sent.sent) > 600, len(sent.sent)
    assert not sent.broken, "answers the document does not promise:\n" + "\n".join(
        sorted(sent.broken)
    )
