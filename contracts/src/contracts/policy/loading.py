"""Reading policy files, and errors a support manager can act on.

A broken file is reported as ``file: field.path: reason`` lines, every problem at once, never
as a traceback; the service refuses to start on it rather than enforce half a policy.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from itertools import pairwise
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
    """Every ``*.yaml`` policy in a folder, by id; all broken files are reported together.

    Several files may hold versions of one policy (same id, ``version`` 1, 2, …, each later one
    with its ``effective_from``): the id then maps to the latest version, and every version
    answers ``in_force(at)`` — services ask for the version that governs an instant.
    """
    root = Path(folder)
    files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
    if not files:
        raise PolicyFileError(root, ["no policy files (*.yaml) in this folder"])
    found: dict[str, dict[int, tuple[Path, SupportPolicy]]] = {}
    problems: list[str] = []
    for file in files:
        try:
            policy = load_policy(file)
        except PolicyFileError as exc:
            problems += [f"{exc.path}: {p}" for p in exc.problems]
            continue
        versions = found.setdefault(policy.id, {})
        if policy.version in versions:
            problems.append(
                f"{file}: version {policy.version} of policy {policy.id!r} is already in "
                f"{versions[policy.version][0].name}"
            )
            continue
        clash = next(
            (
                p
                for other in found.values()
                for _, p in other.values()
                if p.id != policy.id and p.case_prefix == policy.case_prefix
            ),
            None,
        )
        if clash is not None:
            problems.append(
                f"{file}: case_prefix {policy.case_prefix!r} is already used by policy "
                f"{clash.id!r}; case numbers must tell policies apart"
            )
        versions[policy.version] = (file, policy)
    policies: dict[str, SupportPolicy] = {}
    for policy_id, versions in found.items():
        ordered = tuple(p for _, (_, p) in sorted(versions.items()))
        problems += _version_problems(ordered, {p.version: f for f, p in versions.values()})
        policies[policy_id] = ordered[-1].with_versions(ordered)
    if problems:
        raise PolicyFileError(root, problems)
    return policies


def _version_problems(ordered: tuple[SupportPolicy, ...], files: dict[int, Path]) -> list[str]:
    """A later version must say from when it governs, after the one before it, and keep the
    case prefix (numbering goes on across versions)."""
    problems = []
    for before, after in pairwise(ordered):
        where = files[after.version]
        if after.effective_from is None:
            problems.append(f"{where}: version {after.version} needs effective_from")
        elif before.effective_from is not None and after.effective_from <= before.effective_from:
            problems.append(
                f"{where}: effective_from must come after version {before.version}'s "
                f"({before.effective_from.isoformat()})"
            )
        if after.case_prefix != before.case_prefix:
            problems.append(
                f"{where}: case_prefix {after.case_prefix!r} differs from version "
                f"{before.version}'s {before.case_prefix!r}; case numbers go on across versions"
            )
    return problems
