"""Fixtures shared by every test of the workspace: a real PostgreSQL for integration tests.

The helper lives in ``testing/postgres.py``, outside every package, so the directory is put on
``sys.path`` here explicitly; that works whatever pytest's import mode, and from any test
directory, because this root conftest is always loaded first.

A missing or broken PostgreSQL makes the tests that need it *fail*, never skip: a CI run that
silently left out the database tests would look green while proving nothing about persistence.
"""

from __future__ import annotations

import itertools
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "testing"))

from postgres import (  # found through the sys.path entry above
    PostgresUnavailableError,
    drop_database,
    fresh_database,
    running_postgres,
)

# Database names must not collide between pytest-xdist workers nor with what an earlier,
# crashed run left on a server CI provides: hence process id, a per-run token and a counter.
_RUN = uuid.uuid4().hex[:8]
_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[dict[str, str]]:
    """The eventsourcing env of a PostgreSQL server, started once per test session (per worker).

    Raises a test failure, not a skip, when no server is available.
    """
    try:
        with running_postgres() as env:
            yield env
            return
    except PostgresUnavailableError as error:
        problem = str(error)
    # Outside the except block, so the report shows the explanation once, not a traceback chain.
    pytest.fail(f"integration tests need a real PostgreSQL: {problem}", pytrace=False)


@pytest.fixture
def postgres_env(postgres_server: dict[str, str]) -> Iterator[dict[str, str]]:
    """The eventsourcing env of a new, empty database for just this test; dropped afterwards."""
    name = f"test_{os.getpid()}_{_RUN}_{next(_databases)}"
    env = fresh_database(postgres_server, name)
    yield env
    drop_database(env)


# --- NATS ------------------------------------------------------------------------------------

from nats_server import NatsServer, NatsServerError  # noqa: E402  (needs the sys.path entry)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh nats-server with JetStream on 127.0.0.1 and an empty store, for just this test.

    Per test rather than per session because it is cheap (a start takes a few tens of
    milliseconds) and because tests stop, kill and restart it.  The full server log is kept in
    ``nats-server.log`` beside the store, in the test's ``tmp_path``.  A server that cannot be
    started fails the test, never skips it, like PostgreSQL above.
    """
    try:
        server = NatsServer(tmp_path / "nats-store", log_file=tmp_path / "nats-server.log")
        server.start()
    except NatsServerError as error:
        problem = str(error)
    else:
        try:
            yield server
        finally:
            server.stop()
        return
    pytest.fail(f"integration tests need a real nats-server: {problem}", pytrace=False)
