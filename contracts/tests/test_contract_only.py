"""The contract package stays a contract: reading an event must not pull in a web framework.

Anything that only wants to validate a policy file or decode an event (a partner's consumer,
a schema check in CI) installs `contracts`; if it dragged FastAPI, asyncpg, nats-py and the
OpenTelemetry SDK along, every such reader would carry the services' run time.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import contracts

PACKAGE_ROOT = Path(contracts.__file__).resolve().parents[2]
ALLOWED = {"pydantic", "pyyaml", "holidays", "tzdata"}


def test_contracts_declare_only_the_four_dependencies() -> None:
    project = tomllib.loads((PACKAGE_ROOT / "pyproject.toml").read_text())["project"]
    names = {
        requirement.split(">")[0].split("=")[0].split("<")[0].strip().lower()
        for requirement in project["dependencies"]
    }
    assert names == ALLOWED


def test_importing_every_contract_module_loads_no_run_time_library() -> None:
    modules = sorted(
        "contracts."
        + ".".join(path.relative_to(PACKAGE_ROOT / "src" / "contracts").with_suffix("").parts)
        for path in (PACKAGE_ROOT / "src" / "contracts").rglob("*.py")
        if path.name != "__init__.py"
    )
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "banned = ('fastapi', 'starlette', 'asyncpg', 'nats', 'opentelemetry', 'httpx2',"
        " 'servicekit', 'eventsourcing')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in banned}))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert modules, "no contract module found"
    assert loaded == "[]"
