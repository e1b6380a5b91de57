"""Reading policy files, and errors a support manager can act on.

A broken file is reported as ``file: field.path: reason`` lines, every problem at once, never
as a traceback; the service refuses to start on it rather than enforce half a policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from contracts.policy.policy import SupportPolicy


class PolicyFileError(ValueError):
    """A policy file that cannot be used, with each problem located in the file."""

    def __init__(self, path: Path | str, problems: Iterable[str]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{self.path}: the policy cannot be used:\n{lines}")


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith(("function-", "tagged-union", "union[")):
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _reason(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if error["type"] == "extra_forbidden":
        return "not a known setting (check its spelling and indentation)"
    if error["type"] == "missing":
        return "required, but missing"
    return message


def parse_policy(text: str, *, origin: str = "<policy>") -> SupportPolicy:
    """Parse the YAML text of one policy."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyFileError(origin, [f"{where}not valid YAML ({problem})"]) from None
    if not isinstance(data, dict):
        raise PolicyFileError(origin, ["a policy file must be a mapping of settings"])
    try:
        return SupportPolicy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            if not error["loc"]:  # cross-reference checks: lines that carry their own paths
                problems += _reason(error).splitlines()
                continue
            where = _where(tuple(error["loc"]))
            problems.append(f"{where}: {_reason(error)}")
        raise PolicyFileError(origin, problems) from None


def load_policy(path: Path | str) -> SupportPolicy:
    """Load one policy file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(file, [f"cannot be read ({exc})"]) from None
    return parse_policy(text, origin=str(file))


def load_policies(folder: Path | str) -> dict[str, SupportPolicy]:
    """Every ``*.yaml`` policy in a folder, by id; all broken files are reported together."""
    root = Path(folder)
    files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
    if not files:
        raise PolicyFileError(root, ["no policy files (*.yaml) in this folder"])
    policies: dict[str, SupportPolicy] = {}
    problems: list[str] = []
    for file in files:
        try:
            policy = load_policy(file)
        except PolicyFileError as exc:
            problems += [f"{exc.path}: {p}" for p in exc.problems]
            continue
        if policy.id in policies:
            problems.append(f"{file}: id {policy.id!r} is already used by another file")
        clash = next((p for p in policies.values() if p.case_prefix == policy.case_prefix), None)
        if clash is not None:
            problems.append(
                f"{file}: case_prefix {policy.case_prefix!r} is already used by policy "
                f"{clash.id!r}; case numbers must tell policies apart"
            )
        policies[policy.id] = policy
    if problems:
        raise PolicyFileError(root, problems)
    return policies
