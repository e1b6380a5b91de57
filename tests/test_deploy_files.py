"""The deployment files stay valid and in step with the services' settings.

No Docker engine runs here, so the compose file is checked against the Compose Specification's
JSON Schema (as vendored by check-jsonschema) and against what each service actually reads
from its environment; the Dockerfiles against the shape every image must have.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from notifier.settings import Settings as NotifierSettings
from sla_monitor.settings import Settings as SlaSettings
from ticket_api.settings import Settings as TicketSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = {
    "ticket-api": ("TICKET_API_", TicketSettings, 8000),
    "sla-monitor": ("SLA_MONITOR_", SlaSettings, 8001),
    "notifier": ("NOTIFIER_", NotifierSettings, 8002),
}
POSTGRES = {
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DBNAME",
}


def known_variables(prefix: str, settings: Any) -> set[str]:
    return {prefix + name.upper() for name in settings.model_fields} | POSTGRES


def test_the_compose_file_meets_the_compose_specification() -> None:
    schema_file = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads(schema_file.joinpath("compose-spec.json").read_text(encoding="utf-8"))
    jsonschema.validate(COMPOSE, schema)
    # The check has teeth: an unknown key or a wrong type is refused.
    for broken in ({"restartt": "always"}, {"ports": "8000:8000"}):
        bad = {"services": {"x": {"image": "busybox", **broken}}}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_service_is_configured_only_with_variables_it_reads(service: str) -> None:
    prefix, settings, port = SERVICES[service]
    spec = COMPOSE["services"][service]
    environment = spec["environment"]
    unknown = {
        name
        for name in environment
        if not name.startswith("OTEL_") and name not in known_variables(prefix, settings)
    }
    assert unknown == set(), f"{service} does not read {sorted(unknown)}"
    assert spec["read_only"] is True and "ALL" in spec["cap_drop"]
    assert f"{port}:{port}" in spec["ports"]
    assert "./policies:/app/policies:ro" in spec["volumes"]
    # Started only once what it needs is healthy.
    assert spec["depends_on"]["nats"]["condition"] == "service_healthy"
    assert spec["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_dockerfile_builds_the_locked_service_as_a_non_root_user(service: str) -> None:
    prefix, settings, port = SERVICES[service]
    text = (ROOT / "services" / service / "Dockerfile").read_text(encoding="utf-8")
    assert len(re.findall(r"^FROM ", text, re.M)) == 2  # build stage + runtime stage
    assert f"uv sync --locked --no-dev --no-editable --package {service}" in text
    assert re.search(r"^USER 10001$", text, re.M)
    assert f"http://127.0.0.1:{port}/healthz" in re.search(r"HEALTHCHECK[^\n]*\n[^\n]*", text)[0]
    assert f'CMD ["{service}"]' in text
    declared = set(re.findall(r"\b(" + prefix + r"[A-Z_]+)=", text))
    assert declared <= known_variables(prefix, settings), declared
    scripts = (ROOT / "services" / service / "pyproject.toml").read_text(encoding="utf-8")
    assert f'\n{service} = "' in scripts  # the command the image runs exists


def test_docker_ignores_what_images_must_not_carry() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", "var", "tests", "**/tests"} <= set(ignored)
