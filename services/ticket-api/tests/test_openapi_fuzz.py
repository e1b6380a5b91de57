"""Thousands of generated requests against the OpenAPI description: no server errors, ever,
and every answer is one the document promised.

Schemathesis generates valid and invalid requests for every operation of ``/openapi.json``
(ids, case numbers, bodies, query strings, headers) and sends them to the real app on its
SQLite store, as an admin (who may reach every endpoint) and as a customer. Each answer must be
below 500 and, when an error, a problem document; and it must conform to the document: a
status code it declares, a body matching the declared schema, the declared content type and
headers. A generated client trusts exactly that. Bounded per operation so CI stays quick;
derandomized so a run is reproducible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from conftest import ADMIN, CUSTOMER, running_api

EXAMPLES_PER_OPERATION = 50
CONFORMANCE = [
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


@schemathesis.serializer("message/rfc822")
def raw_email(ctx: Any, value: Any) -> bytes:
    """Generated bodies for the email intake go as they come: bytes, or text as UTF-8."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")


def fuzz(operation: Any, sent: list[tuple[str, str, int]], broken: set[str]) -> None:
    """Send an operation's generated requests as an admin and as a customer."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def no_server_error(case: Any) -> None:
        for headers in (ADMIN, CUSTOMER):
            response = case.call(headers={**(case.headers or {}), **headers})
            sent.append((case.method, case.path, response.status_code))
            where = (case.method, case.formatted_path, response.status_code)
            assert response.status_code < 500, (*where, response.text[:500])
            if response.status_code >= 400:
                media = response.headers["content-type"][0]
                assert media.startswith("application/problem+json"), where
            try:
                case.validate_response(response, checks=CONFORMANCE)
            except FailureGroup as group:  # collected: one run lists every broken promise
                for failure in group.exceptions:
                    broken.add(f"{case.operation.label} {response.status_code}: {failure.title}")

    no_server_error()


def test_no_generated_request_makes_a_server_error(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    for api in running_api(request, tmp_path, "sqlite", rate_limit="1000000/minute"):
        api.open()  # something to find: ids and case numbers sometimes hit
        schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 30
        sent: list[tuple[str, str, int]] = []
        broken: set[str] = set()
        for operation in operations:
            fuzz(operation, sent, broken)
        assert len(sent) > 2000, len(sent)
        print(f"{len(sent)} requests, statuses: {sorted({s for _, _, s in sent})}")
        assert not broken, "answers the document does not promise:\n" + "\n".join(sorted(broken))
