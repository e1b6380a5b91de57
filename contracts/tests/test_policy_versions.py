"""Policy versions: a changed promise is a new version from an instant on, never an edit of
history. Files of one policy sit side by side; each service asks which version governs."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from contracts.policy import PolicyFileError, load_policies

POLICIES = Path(__file__).resolve().parents[2] / "policies"
DECEMBER = datetime(2026, 12, 1, 6, tzinfo=UTC)  # Tuesday 1 December, 00:00 in Mexico City


def with_version(folder: Path, **changes: object) -> None:
    """Copy the seed policies and add a version 2 of BITAM with ``changes``."""
    for file in POLICIES.glob("*.yaml"):
        shutil.copy(file, folder / file.name)
    data = yaml.safe_load((POLICIES / "000-bitam.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    (folder / "000-bitam.v2.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")


def test_a_second_version_governs_from_its_instant_and_the_first_before_it(
    tmp_path: Path,
) -> None:
    with_version(tmp_path, version=2, effective_from=DECEMBER.isoformat(), name="BITAM 2027")
    bitam = load_policies(tmp_path)["bitam"]
    assert bitam.version == 2  # the id names the latest version
    assert [v.version for v in bitam.versions] == [1, 2]
    assert bitam.in_force(datetime(2026, 11, 30, 23, tzinfo=UTC)).version == 1
    assert bitam.in_force(DECEMBER).version == 2
    assert bitam.in_force(DECEMBER).in_force(datetime(2026, 11, 1, tzinfo=UTC)).version == 1


def test_a_single_file_is_version_1_in_force_since_always() -> None:
    bitam = load_policies(POLICIES)["bitam"]
    assert (bitam.version, bitam.effective_from) == (1, None)
    assert bitam.in_force(datetime(2000, 1, 1, tzinfo=UTC)) is bitam


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"version": 2}, "version 2 needs effective_from"),
        ({"version": 1}, "version 1 of policy 'bitam' is already in"),
        ({"version": 2, "effective_from": DECEMBER.isoformat(), "case_prefix": "BTM"}, "case"),
    ],
)
def test_versions_that_would_muddle_history_are_refused(
    tmp_path: Path, changes: dict[str, object], problem: str
) -> None:
    with_version(tmp_path, **changes)
    with pytest.raises(PolicyFileError) as refused:
        load_policies(tmp_path)
    assert any(problem in p for p in refused.value.problems), refused.value.problems
