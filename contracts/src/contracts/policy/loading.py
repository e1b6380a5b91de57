"""Reading policy files, and errors a support manager can act on.

A broken file is reported as ``file: field.path: reason`` lines, every problem at once, never
as a traceback; the service refuses to start on it rather than enforce half a policy.
"""

from __future__ import annotations

import copy
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
        problems = _field_problems(exc)
        if all(error["loc"] for error in exc.errors()):
            problems += _reference_problems(data, exc)
        raise PolicyFileError(origin, problems) from None


#: How many times broken settings are set aside to reach the cross-reference checks.
_PRUNING_ROUNDS = 8


def _field_problems(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        if not error["loc"]:  # cross-reference checks: lines that carry their own paths
            problems += _reason(error).splitlines()
            continue
        problems.append(f"{_where(tuple(error['loc']))}: {_reason(error)}")
    return problems


def _reference_problems(data: dict[str, Any], exc: ValidationError) -> list[str]:
    """The cross-reference problems (unknown calendar, priority, group...) of a file that also
    has broken settings, so a support manager sees every problem at once, not one per run.

    pydantic checks cross-references (``SupportPolicy._references``) only once every setting is
    valid, so the broken settings are set aside (deleted from a copy, widening to the enclosing
    setting while that is still broken) and the copy validated again.  Problems that only the
    setting aside could cause — a reference to something deleted — are left out; so is
    everything when a deletion would shift list positions the messages name (a broken list
    item) or leave a required setting missing at the top: then only the broken settings are
    reported, as before.
    """
    candidate = copy.deepcopy(data)
    removed: set[str] = set()
    errors = exc.errors(include_url=False)
    for _round in range(_PRUNING_ROUNDS):
        for error in errors:
            if not _set_aside(candidate, tuple(error["loc"]), removed):
                return []
        try:
            SupportPolicy.model_validate(candidate)
        except ValidationError as again:
            errors = again.errors(include_url=False)
        else:
            return []
        if not all(error["loc"] for error in errors):
            lines = [line for e in errors if not e["loc"] for line in _reason(e).splitlines()]
            return [line for line in lines if not any(repr(name) in line for name in removed)]
    return []


def _set_aside(data: dict[str, Any], loc: tuple[int | str, ...], removed: set[str]) -> bool:
    """Delete the deepest mapping entry of ``data`` that ``loc`` reaches; False if impossible.

    Parts of ``loc`` that are not keys (pydantic's validator and union tags) are skipped.
    """
    trail: list[tuple[Any, int | str]] = []  # (container, key) down to the reached value
    node: Any = data
    for part in loc:
        in_mapping = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            trail.append((node, part))
            node = node[part]
    if not trail:
        return False
    container, key = trail[-1]
    if not isinstance(container, dict):
        return False
    value = container.pop(key)
    removed.add(str(key))
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        removed.add(value["id"])
    return True


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
