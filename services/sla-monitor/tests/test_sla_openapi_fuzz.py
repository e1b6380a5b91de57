"""Schemathesis over sla-monitor's document: generated requests as an admin, an agent and a
customer, against the app on a real socket and PostgreSQL holding tickets of two tenants.

No answer may be a server error, and every answer must be one the document promised
(``testing/conformance.py``). The clock stream is left out: it never ends, by design (its
answer and problems are covered by ``test_sla_api``).
"""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import schemathesis
from conformance import fuzz
from generated_clients import served
from introspection import DEV_DIRECTORY, dev_introspection
from test_sla_api import EARLIER_MONDAY, FRIDAY_1730, opened, replied, run, seed, settings_for

from servicekit.clock import ManualClock
from servicekit.web import PrincipalInfo
from sla_monitor.main import create_app

EXAMPLES_PER_OPERATION = 25
CREDENTIALS = {
    "admin": {"Authorization": "Bearer admin-ops"},
    "agent": {"Authorization": "Bearer dev-agent"},
    "customer": {"Authorization": "Bearer dev-customer"},
}
DIRECTORY = DEV_DIRECTORY | {
    "admin-ops": PrincipalInfo(kind="admin", id="admin-ops", all_tenants=True)
}


def test_no_generated_request_makes_a_server_error_or_breaks_the_document(
    postgres_env: dict[str, str],
) -> None:
    run(seed(postgres_env, "acme", uuid4(), [(opened(case_number="BIT-000001"), FRIDAY_1730)]))
    story = [(opened(case_number="BIT-000002"), EARLIER_MONDAY)]
    story.append((replied(), EARLIER_MONDAY + timedelta(minutes=90)))
    run(seed(postgres_env, "globex", uuid4(), story))
    clock = ManualClock(FRIDAY_1730 + timedelta(minutes=15))
    app = create_app(
        settings_for(postgres_env), clock=clock, principals=dev_introspection(DIRECTORY)
    )
    with served(app) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [
            result.ok()
            for result in schema.get_all_operations()
            if result.ok().path != "/v1/sla/stream"
        ]
        assert len(operations) == 7
        sent = fuzz(operations, CREDENTIALS, examples=EXAMPLES_PER_OPERATION)
    print(
        f"sla-monitor: {len(sent.sent)} requests {sent.by_credential()}, statuses {sent.statuses()}"
    )
    assert len(sent.sent) > 300, len(sent.sent)
    assert not sent.broken, "answers the document does not promise:\n" + "\n".join(
        sorted(sent.broken)
    )
