"""The three services publish a truthful contract: auth, problems and stable operation ids.

A generated client must work unedited (STYLE.md): so every operation that needs a caller says
which credentials it takes, every error it can answer is an RFC 9457 problem with the shared
schema (FastAPI's default ``HTTPValidationError`` included), and each operation has a short,
unique camelCase id that becomes a client method.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "testing"))

from introspection import dev_introspection  # noqa: E402

from servicekit.clock import ManualClock  # noqa: E402

OPEN = {"/healthz", "/readyz", "/metrics"}
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]+$")


def ticket_api(tmp_path: Path) -> Any:
    from ticket_api.main import create_app
    from ticket_api.settings import DEV_PRINCIPALS, Settings

    settings = Settings(data_dir=tmp_path, policies_dir=ROOT / "policies", dev_keys=DEV_PRINCIPALS)
    return create_app(settings)


def sla_monitor(_: Path) -> Any:
    from sla_monitor.main import create_app
    from sla_monitor.settings import Settings

    clock = ManualClock(datetime(2026, 11, 30, tzinfo=UTC))
    return create_app(
        Settings(policies_dir=ROOT / "policies"), clock=clock, principals=dev_introspection()
    )


def notifier(_: Path) -> Any:
    from notifier.main import create_app
    from notifier.settings import Settings

    clock = ManualClock(datetime(2026, 11, 30, tzinfo=UTC))
    return create_app(
        Settings(policies_dir=ROOT / "policies"), clock=clock, principals=dev_introspection()
    )


SERVICES: dict[str, Callable[[Path], Any]] = {
    "ticket-api": ticket_api,
    "sla-monitor": sla_monitor,
    "notifier": notifier,
}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_operation_declares_its_auth_its_problems_and_a_stable_id(
    service: str, tmp_path: Path
) -> None:
    document = SERVICES[service](tmp_path).openapi()
    assert set(document["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    assert "HTTPValidationError" not in str(document)
    ids: list[str] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{service} {method.upper()} {path}"
            ids.append(operation["operationId"])
            assert CAMEL.match(operation["operationId"]), where
            if path not in OPEN:
                assert operation.get("security"), f"{where} names no credentials"
                assert "401" in operation["responses"], where
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    content = answer.get("content", {})
                    assert list(content) == ["application/problem+json"], (where, status)
                    schema = content["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (where, status)
    assert len(ids) == len(set(ids)), f"{service}: operation ids repeat"


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A JSON Schema (2020-12, as OpenAPI 3.1) validator whose ``#/components`` refs resolve
    inside ``document``."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator({**schema, "components": document["components"]})


def _check(document: dict[str, Any], where: str, schema: dict[str, Any], value: Any) -> None:
    errors = sorted(_validator(document, schema).iter_errors(value), key=str)
    assert not errors, f"{where}: the example does not fit its schema: {errors[0].message}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_operation_has_request_and_response_examples_that_fit_their_schemas(
    service: str, tmp_path: Path
) -> None:
    """Every parameter, request body and answer (success and problem) of every operation has
    an example an integrator can copy, and each one validates against its schema."""
    document = SERVICES[service](tmp_path).openapi()
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{service} {method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                name = f"{where} parameter {parameter['name']}"
                assert "example" in parameter, f"{name} has no example"
                _check(document, name, parameter["schema"], parameter["example"])
                checked += 1
            body = operation.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                name = f"{where} request {media}"
                assert "example" in content, f"{name} has no example"
                if "schema" in content and "json" in media:
                    _check(document, name, content["schema"], content["example"])
                checked += 1
            answered = [s for s, a in operation["responses"].items() if a.get("content")]
            assert any(int(s) < 400 for s in answered) or "204" in operation["responses"], where
            for status in answered:
                for media, content in operation["responses"][status]["content"].items():
                    if media == "application/octet-stream":  # a file's bytes, as uploaded
                        continue
                    name = f"{where} {status} {media}"
                    assert "example" in content, f"{name} has no example"
                    if "schema" in content and "json" in media:
                        _check(document, name, content["schema"], content["example"])
                    checked += 1
    assert checked > 40
