"""Schemathesis over a service's live OpenAPI document: no server errors, only promised answers.

Each operation's generated requests (valid and invalid parameters, bodies, ids) are sent once
per credential; every answer must be below 500, an error must be a problem document, and the
answer must conform to the document (a declared status, a body matching its schema, the
declared content type and headers). Broken promises are collected, so one run lists them all.
Derandomized, so a run is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

CONFORMANCE = [
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


class Run:
    """What a conformance run sent and which promises it found broken."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str, int]] = []
        self.broken: set[str] = set()

    def statuses(self) -> list[int]:
        return sorted({status for *_, status in self.sent})

    def by_credential(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for who, *_ in self.sent:
            counts[who] = counts.get(who, 0) + 1
        return counts


def fuzz(
    operations: Iterable[Any],
    credentials: Mapping[str, Mapping[str, str]],
    *,
    examples: int,
) -> Run:
    """Send every operation's generated requests as each of ``credentials`` (name: headers)."""
    run = Run()
    for operation in operations:
        _fuzz(operation, credentials, examples, run)
    return run


def _fuzz(
    operation: Any, credentials: Mapping[str, Mapping[str, str]], examples: int, run: Run
) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def no_server_error(case: Any) -> None:
        for who, headers in credentials.items():
            response = case.call(headers={**(case.headers or {}), **headers}, timeout=30)
            run.sent.append((who, case.method, case.path, response.status_code))
            where = (who, case.method, case.formatted_path, response.status_code)
            assert response.status_code < 500, (*where, response.text[:500])
            if response.status_code >= 400:
                media = (response.headers.get("content-type") or [""])[0]
                assert media.startswith("application/problem+json"), where
            try:
                case.validate_response(response, checks=CONFORMANCE)
            except FailureGroup as group:
                for failure in group.exceptions:
                    label = case.operation.label
                    run.broken.add(f"{label} {response.status_code}: {failure.title}")

    no_server_error()
